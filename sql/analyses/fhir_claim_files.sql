-- The input files of a --format fhir night that hold claims rows (MedicationDispense, MedicationRequest
-- or lines that are not JSON), in order: each becomes one canonical Parquet file.
-- Input: stg_fhir_claims (sql/staging/stg_fhir_claims.sql).
select distinct source_file
from stg_fhir_claims
order by source_file
