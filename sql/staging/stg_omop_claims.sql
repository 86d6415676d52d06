-- OMOP CDM v5.4 drug_exposure rows as canonical claims (the mapping is in transforms/adapters/omop.py's
-- docstring), for stg_adapted_claims.sql. An administration row (drug_type_concept_id of a dose given,
-- OMOP Type Concept vocabulary: 38000179, 43542356, 43542357, 43542358, 581373 physician administered
-- drug from a procedure, problem list, referral or EHR order; 38000180 inpatient administration; 32818
-- EHR administration record) with neither end date nor days supply is one day of exposure (one IV
-- methylene blue dose), never a quarantined row; any other row with neither (a prescription or order
-- still running when the data were extracted) is an ongoing order: exposure to the night, capped by
-- [episodes] ongoing_max_days (sql/macros/ongoing_end.sql). The end date wins over days supply (the CDM requires
-- it; ETLs derive supplies such as Synthea's 371-day yearly renewals); 0, the CDM's "unknown", is empty
-- for days supply and quantity; provider 0 is unknown.
-- Inputs: omop_drug_exposure and omop_concept (the source tables as trimmed text, NULL for an absent
-- column; __row and raw: transforms/adapters/_source.Source.named_view). Macro: iso_date.
with exposures as (
    select
        *,
        iso_date(drug_exposure_start_date) as start_date,
        iso_date(drug_exposure_end_date) as given_end,
        nullif(try_cast(days_supply as double), 0) as supply,
        drug_type_concept_id in ('38000179', '38000180', '43542356', '43542357', '43542358', '581373', '32818')
            as administered
    from omop_drug_exposure
),

ended as (
    select
        *,
        case when given_end is null and supply is null and administered then start_date else given_end end
            as end_date
    from exposures
)

select
    e.drug_exposure_id as claim_id,
    e.person_id as patient_id,
    e.start_date as fill_date,
    case when e.end_date is not null or try_cast(e.days_supply as double) = 0 then null else e.days_supply end
        as days_supply,
    e.end_date,
    case
        when src.vocabulary_id = 'NDC' then src.concept_code
        when regexp_matches(e.drug_source_value, '^([0-9]{11}|[0-9]{4,5}-[0-9]{3,4}-[0-9]{1,2})$')
            then e.drug_source_value
    end as ndc,
    case when drug.vocabulary_id = 'RxNorm' then drug.concept_code end as rxcui,
    drug.concept_name as drug_name,
    case when try_cast(e.quantity as double) = 0 then null else e.quantity end as quantity,
    case when e.provider_id = '0' then null else e.provider_id end as prescriber_id,
    null as pharmacy_id,
    null as claim_status,
    null as fill_number,
    e.visit_occurrence_id as rx_reference,
    null as original_claim_id,
    case when e.end_date is null and e.supply is null then 'true' end as ongoing,
    e.__row,
    e.raw,
    null as reject_code,
    null as reject_reason
from ended as e
left join omop_concept as drug on e.drug_concept_id = drug.concept_id
left join omop_concept as src on e.drug_source_concept_id = src.concept_id
