-- Claim ids of this batch that earlier nights loaded for the same patient (a claim id is unique per
-- patient: the same id on another patient is another claim). The night's own earlier runs are forgotten
-- first.
select distinct claim_id, patient_id
from (
    select trimmed_text(claim_id) as claim_id, trimmed_text(patient_id) as patient_id from stg_raw
) as batch
semi join claims using (claim_id, patient_id)
