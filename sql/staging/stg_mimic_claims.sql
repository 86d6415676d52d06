-- MIMIC-IV hosp/prescriptions rows as canonical claims, one per order component (the mapping and why
-- are in transforms/adapters/mimic.py's docstring), for stg_adapted_claims.sql. drug_type BASE rows (the
-- diluent of an infusion) are kept and pre-rejected as not_a_drug_order, so rows still reconcile; the
-- claim id of a component other than MAIN (or without a pharmacy_id) is pharmacy_id:drug_type:row.
-- The last active day is the stop date, or the start date when the stop is earlier. An order without a
-- stoptime was still active when the data were extracted: it is an ongoing order (exposure to the night,
-- capped by [episodes] ongoing_max_days), not a one-day order.
-- Ids are read by source_id ('10000032.0' is '10000032'); an unknown prescriber (empty, zero or one of
-- $unknown_ids) is NULL.
-- Parameter: $unknown_ids ([source] unknown_ids). Input: mimic_prescriptions (the table as trimmed text,
-- NULL for an absent column; __row, raw). Macros: iso_date, source_id, known_id.
with orders as (
    select
        * replace (source_id(subject_id) as subject_id),
        iso_date(starttime) as start_date,
        iso_date(stoptime) as stop_date,
        source_id(pharmacy_id) as component_id,  -- MIMIC's pharmacy_id: an order id, not a pharmacy
        upper(drug_type) as component,
        coalesce(upper(drug_type) = 'BASE', false) as is_base,
        coalesce(upper(drug_type) = 'MAIN', true) as is_main
    from mimic_prescriptions
)

select
    case
        when not is_main or component_id is null then concat_ws(':', coalesce(component_id, 'row'), component, __row)
        else component_id
    end as claim_id,
    subject_id as patient_id,
    start_date as fill_date,
    null as days_supply,
    case
        when try_cast(start_date as date) is null or stoptime is null then stop_date
        when try_cast(stop_date as date) >= try_cast(start_date as date) then stop_date
        else start_date
    end as end_date,
    nullif(regexp_replace(ndc, '^0+$', ''), '') as ndc,
    null as rxcui,
    case when route is null then drug else drug || ' [' || route || ']' end as drug_name,
    null as quantity,
    known_id(source_id(order_provider_id), $unknown_ids) as prescriber_id,
    null as pharmacy_id,
    null as claim_status,
    null as fill_number,
    poe_id as rx_reference,
    null as original_claim_id,
    case when stoptime is null then 'true' end as ongoing,
    __row,
    raw,
    case when is_base then 'not_a_drug_order' end as reject_code,
    case
        when is_base
            then 'drug_type BASE: ' || coalesce(drug, 'unnamed') || ' is the diluent of an infusion order, not a drug order'
    end as reject_reason
from orders
