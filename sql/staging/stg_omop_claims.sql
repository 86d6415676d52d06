-- OMOP CDM v5.4 drug_exposure rows as canonical claims (the mapping is in transforms/adapters/omop.py's
-- docstring), for stg_adapted_claims.sql. An administration row (drug_type_concept_id of a dose given,
-- OMOP Type Concept vocabulary: 38000179, 43542356, 43542357, 43542358, 581373 physician administered
-- drug from a procedure, problem list, referral or EHR order; 38000180 inpatient administration; 32818
-- EHR administration record) with neither end date nor days supply is one day of exposure (one IV
-- methylene blue dose), never a quarantined row; any other row with neither (a prescription or order
-- still running when the data were extracted) is an ongoing order: exposure to the night, capped by
-- [episodes] ongoing_max_days (sql/macros/ongoing_end.sql). The end date wins over days supply (the CDM requires
-- it; ETLs derive supplies such as Synthea's 371-day yearly renewals), except an end date of exactly
-- start + days_supply: the first day without drug, which ETLs (CMS SynPUF's, Synthea's) write for the
-- last covered day; it becomes start + days_supply - 1, the THEMIS convention (end_date_corrected
-- counts those rows: sql/analyses/omop_end_dates_corrected.sql). 0, the CDM's "unknown", is empty for
-- days supply and quantity, and drug_concept_id 0 ("No matching concept") names no drug: the NDC in
-- drug_source_value (or the NDC source concept) is then the drug. Ids are read by source_id (an export
-- that wrote them as floats, '40231926.0', still joins its concepts and persons); an unknown provider
-- (empty, zero or one of $unknown_ids) is NULL.
-- A row naming no drug at all is pre-rejected missing_drug with a reason saying why (see the last step).
-- Parameter: $unknown_ids ([source] unknown_ids). Inputs: omop_drug_exposure and omop_concept (the source
-- tables as trimmed text, NULL for an absent column; __row and raw: transforms/adapters/_source.Source.
-- named_view). Macros: iso_date, source_id, known_id.
with exposures as (
    select
        * replace (
            source_id(drug_exposure_id) as drug_exposure_id,
            source_id(person_id) as person_id,
            source_id(drug_concept_id) as drug_concept_id,
            source_id(drug_source_concept_id) as drug_source_concept_id,
            source_id(visit_occurrence_id) as visit_occurrence_id
        ),
        known_id(source_id(provider_id), $unknown_ids) as prescriber,
        iso_date(drug_exposure_start_date) as start_date,
        iso_date(drug_exposure_end_date) as given_end,
        nullif(try_cast(days_supply as double), 0) as supply,
        source_id(drug_type_concept_id) in ('38000179', '38000180', '43542356', '43542357', '43542358', '581373', '32818')
            as administered
    from omop_drug_exposure
),

supplied as (
    select
        *,
        coalesce(
            case
                when supply = floor(supply) and supply between 1 and 36500
                    then try_cast(given_end as date) = try_cast(start_date as date) + supply::integer
            end,
            false
        ) as end_date_corrected
    from exposures
),

ended as (
    select
        *,
        case
            when end_date_corrected then strftime(try_cast(start_date as date) + supply::integer - 1, '%Y-%m-%d')
            when given_end is null and supply is null and administered then start_date
            else given_end
        end as end_date
    from supplied
),

concepts as (
    select source_id(concept_id) as concept_id, concept_name, vocabulary_id, concept_code
    from omop_concept
),

mapped as (
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
        e.prescriber as prescriber_id,
        null as pharmacy_id,
        null as claim_status,
        null as fill_number,
        e.visit_occurrence_id as rx_reference,
        null as original_claim_id,
        case when e.end_date is null and e.supply is null then 'true' end as ongoing,
        e.__row,
        e.raw,
        e.end_date_corrected,
        e.drug_concept_id,
        e.drug_source_value,
        drug.concept_id is not null as concept_found,
        drug.vocabulary_id as concept_vocabulary,
        drug.concept_code as concept_code
    from ended as e
    left join concepts as drug on e.drug_concept_id = drug.concept_id and e.drug_concept_id <> '0'
    left join concepts as src on e.drug_source_concept_id = src.concept_id and e.drug_source_concept_id <> '0'
)

-- A row that names no drug by any route (no concept name, RxNorm code or NDC) is pre-rejected as
-- missing_drug with a reason saying why: the concept is 0, missing from the concept table or has no
-- name there (CPT4 concepts in a concept file without CPT), and the source value is no NDC.
select
    * exclude (drug_concept_id, drug_source_value, concept_found, concept_vocabulary, concept_code),
    case when ndc is null and rxcui is null and drug_name is null then 'missing_drug' end as reject_code,
    case
        when ndc is null and rxcui is null and drug_name is null
            then case
                when drug_concept_id is null then 'drug_concept_id is empty'
                when drug_concept_id = '0' then 'drug_concept_id is 0 (no matching concept)'
                when not concept_found then 'drug_concept_id ' || drug_concept_id || ' is not in the concept table'
                else 'drug_concept_id ' || drug_concept_id || ' (' || coalesce(concept_vocabulary, 'no vocabulary')
                    || ' ' || coalesce(concept_code, 'no code') || ') has no name in the concept table'
            end || ' and ' || case
                when drug_source_value is null then 'drug_source_value is empty'
                else 'drug_source_value ''' || drug_source_value || ''' is no NDC'
            end
    end as reject_reason
from mapped
