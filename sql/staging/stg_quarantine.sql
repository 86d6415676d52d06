-- The night's rejected rows for `quarantine`: the rows of stg_checked (stg_checked.sql) that break a
-- rule of the contract, with their lineage, their text and the reason, and the patient id as the claims
-- would carry it (NULL when the row has none: serosurv explain ties a patient's rows by it). Parameter: $run_id.
-- Input: stg_checked.
select source_file, source_row, raw, reason_code, reason, $run_id as run_id, patient_id
from stg_checked
where reason_code is not null
