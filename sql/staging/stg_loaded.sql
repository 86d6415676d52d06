-- Claim ids of this batch that earlier nights loaded (the night's own earlier runs are forgotten first).
select distinct claim_id
from (select nullif(trim(claim_id), '') as claim_id from stg_raw) as batch
semi join claims using (claim_id)
