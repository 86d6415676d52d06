-- Every claim with its bucket (a hash of patient_id modulo $buckets), written partitioned by bucket for
-- the engine to run on each bucket of patients (transforms/buckets.py). Parameter: $buckets.
-- Input: claims.
select *, hash(patient_id) % $buckets as bucket
from claims
