-- A bounded sample (10,000 rows; DuckDB takes no parameter for a sample size) of this night's accepted
-- claims in the canonical columns, for the data-quality gate's schema and value checks
-- (transforms/quality.py). Parameter: $run_id. Input: claims.
select
    claim_id, patient_id, fill_date, days_supply, end_date, ndc, rxcui, drug_name, quantity, prescriber_id,
    pharmacy_id, claim_status, fill_number, rx_reference, original_claim_id
from claims
where run_id = $run_id
using sample 10000 rows
