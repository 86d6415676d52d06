-- The night's accepted rows for `claims`: the rows of stg_checked (stg_checked.sql) that break no rule
-- of the contract, with their lineage. Parameter: $run_id. Input: stg_checked.
select
    claim_id, patient_id, fill_date, days_supply, end_date, ndc, rxcui, drug_name, quantity, prescriber_id,
    pharmacy_id, claim_status, fill_number, rx_reference, original_claim_id, source_file, source_row, ongoing,
    $run_id as run_id
from stg_checked
where reason_code is null
