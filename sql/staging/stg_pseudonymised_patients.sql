-- The patient file with its patient ids replaced by their keyed pseudonyms (docs/privacy.md), written
-- as Parquet that the patient loader then reads as is (transforms/pseudonymise.py).
-- Input: stg_patients_raw (transforms/ingest.stage_patients); the function
-- serosurv_pseudonym_patient_id, registered (with the key) for the copy.
select * replace (serosurv_pseudonym_patient_id(cast(patient_id as varchar)) as patient_id)
from stg_patients_raw
