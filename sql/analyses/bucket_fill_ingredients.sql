-- Every claim's ingredient mappings with the bucket of its patient (as in bucket_claims.sql), written
-- partitioned by bucket (transforms/buckets.py). Parameter: $buckets. Inputs: fill_ingredients, claims.
select fill_ingredients.*, hash(claims.patient_id) % $buckets as bucket
from fill_ingredients
inner join claims
    on fill_ingredients.claim_id = claims.claim_id and fill_ingredients.patient_id = claims.patient_id
