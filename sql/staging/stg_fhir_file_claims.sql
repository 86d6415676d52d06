-- One input file's rows of stg_fhir_claims (stg_fhir_claims.sql), for stg_adapted_claims.sql, which
-- writes them to that file's canonical Parquet (transforms/adapters/fhir.py).
-- Parameter: $source_file (the input file's full path). Input: stg_fhir_claims.
select * exclude (source_file)
from stg_fhir_claims
where source_file = $source_file
