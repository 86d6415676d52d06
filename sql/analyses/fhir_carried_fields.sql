-- Whether a --format fhir input carries prescribers and pharmacies at all: the claims it does not
-- pre-reject that name one (a source with none declares the field absent: transforms/adapters/fhir.py).
-- Input: stg_fhir_claims (sql/staging/stg_fhir_claims.sql).
select
    count(prescriber_id) as with_prescriber,
    count(pharmacy_id) as with_pharmacy
from stg_fhir_claims
where reject_code is null
