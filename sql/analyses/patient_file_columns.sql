-- The column names of the patient file behind the staging view stg_patients_raw (as written).
-- Input: stg_patients_raw (transforms/ingest.stage_patients).
select column_name from (describe stg_patients_raw)
