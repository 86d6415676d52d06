-- The night's profile for the data-quality gate (transforms/quality.py), one row per run: volumes and
-- shares that the row checks, one claim at a time, cannot judge. Shares of drugs are over paid claims; names
-- count as recognised when they map to a rule ingredient or hold a real drug word (recognised_names). For each
-- code column (NDC, RxNorm), among the paid claims that carry the code and a drug name and map to a rule
-- ingredient, the share the code alone maps (night_mapping: beside_name_by_code / beside_name); the profile
-- keeps the column with the lowest share (code_vs_name_share, code_and_name_claims, code_systems), so a code
-- column that maps far less than the names beside it shows even when the other column maps.
-- ongoing_claims: accepted orders without stop date or days supply (claims.ongoing), counted to the night.
-- top_reject_reason, top_reject_rows: the commonest reason among the rows the quarantine rate counts.
-- Parameters: $run_id, $as_of, $rows_read (rows read from the files, counted before any check),
-- $absent_fields (the fields the source does not carry, comma-separated). The quarantine rate leaves out
-- rows that are the source's shape or workflow, not a broken extract: already loaded, MIMIC's infusion
-- diluents, FHIR requests with dispenses and dispenses or requests that did not happen.
-- Inputs: claims, quarantine, fill_ingredients, recognised_names (drug_name), night_mapping.
with accepted as (
    select
        claims.*,
        claims.claim_status = 'paid' as paid,
        exists (
            select 1
            from fill_ingredients
            where fill_ingredients.claim_id = claims.claim_id and fill_ingredients.patient_id = claims.patient_id
        ) as mapped,
        nullif(trim(claims.drug_name), '') is not null as named
    from claims
    where claims.run_id = $run_id
),

paid as (
    select
        accepted.*,
        accepted.mapped or accepted.drug_name in (select recognised_names.drug_name from recognised_names)
            as recognised
    from accepted
    where accepted.paid
),

code_columns as (
    select
        case night_mapping.field when 'ndc' then 'NDC' else 'RxNorm' end as code_system,
        sum(night_mapping.beside_name) as beside_name,
        sum(night_mapping.beside_name_by_code) / sum(night_mapping.beside_name) as share
    from night_mapping
    where night_mapping.run_id = $run_id and night_mapping.field in ('ndc', 'rxcui')
    group by night_mapping.field
    having sum(night_mapping.beside_name) > 0
),

weakest_code as (
    select code_columns.code_system, code_columns.beside_name, code_columns.share
    from code_columns
    order by code_columns.share, code_columns.code_system
    limit 1
),

rejected_rows as (
    select quarantine.reason_code
    from quarantine
    where
        quarantine.run_id = $run_id
        and quarantine.reason_code not in (
            'already_loaded', 'not_a_drug_order', 'request_dispensed', 'request_not_dispensed', 'not_dispensed',
            'not_an_order'
        )
),

rejected as (
    select count(*) as n from rejected_rows
),

-- The commonest reason among them (the gate's message names it, and the setting that governs it).
top_rejected as (
    select reason_code, count(*) as n
    from rejected_rows
    group by reason_code
    order by n desc, reason_code
    limit 1
),

counts as (
    select
        (select count(*) from accepted) as rows_accepted,
        (select n from rejected) as rows_rejected,
        (select count(*) from accepted where not paid) as reversals,
        (select count(*) from paid) as paid_claims,
        (select count(*) from paid where mapped) as mapped_claims,
        (select count(*) from paid where named) as named_claims,
        (select count(*) from paid where named and recognised) as recognised_claims,
        (select count(*) from paid where not named) as code_only_claims,
        (select count(*) from paid where not named and mapped) as code_only_mapped,
        (select weakest_code.beside_name from weakest_code) as code_and_name_claims,
        (select weakest_code.share from weakest_code) as code_vs_name_share,
        (select weakest_code.code_system from weakest_code) as code_systems,
        (select count(*) from paid where length(ndc) = 10) as ten_digit_ndc_claims,
        (select count(*) from accepted where prescriber_id is not null) as known_prescriber,
        (select count(*) from accepted where pharmacy_id is not null) as known_pharmacy,
        (select count(distinct patient_id) from accepted) as patients,
        (select max(fill_date) from accepted) as newest_fill_date,
        (select median(days_supply) from paid) as median_days_supply,
        (select count(*) from paid where days_supply is not null) as with_supply,
        (select count(*) from paid where days_supply > 120) as long_supply,
        (select count(*) from accepted where ongoing) as ongoing_claims,
        (select top_rejected.reason_code from top_rejected) as top_reject_reason,
        (select top_rejected.n from top_rejected) as top_reject_rows
)

select
    $run_id as run_id,
    $as_of::date as as_of,
    $rows_read::bigint as rows_read,
    rows_accepted,
    rows_rejected,
    paid_claims,
    named_claims,
    code_only_claims,
    code_and_name_claims,
    ten_digit_ndc_claims,
    patients,
    newest_fill_date,
    rows_rejected / nullif($rows_read, 0) as quarantine_rate,
    reversals / nullif(rows_accepted, 0) as reversal_share,
    mapped_claims / nullif(paid_claims, 0) as rule_mapped_share,
    recognised_claims / nullif(named_claims, 0) as recognised_share,
    code_only_mapped / nullif(code_only_claims, 0) as code_only_mapped_share,
    code_vs_name_share::double as code_vs_name_share,
    code_systems,
    known_prescriber / nullif(rows_accepted, 0) as known_prescriber_share,
    known_pharmacy / nullif(rows_accepted, 0) as known_pharmacy_share,
    ($as_of::date - newest_fill_date)::double as newest_fill_lag_days,
    patients / nullif(rows_accepted, 0) as patients_per_claim,
    median_days_supply::double as median_days_supply,
    long_supply / nullif(with_supply, 0) as long_supply_share,
    $absent_fields as absent_fields,
    ongoing_claims,
    top_reject_reason,
    top_reject_rows
from counts
