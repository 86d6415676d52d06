-- The patients an incremental night recomputes: those with claims loaded tonight or removed by a rerun
-- of this night, and those with an ongoing order whose exposure ends later tonight than on the last
-- successful night ($previous_as_of; macro ongoing_end): an ongoing order grows with every night until
-- its cap, so its patient's episodes and interactions are never left as an earlier night computed them.
-- Parameters: $run_id, $as_of, $previous_as_of, $ongoing_max_days. Inputs: claims, forgotten_claims.
select distinct patient_id from claims where run_id = $run_id
union
select patient_id from forgotten_claims
union
select distinct patient_id
from claims
where
    ongoing
    and fill_date <= $as_of
    and ongoing_end(fill_date, $as_of, $ongoing_max_days)
    > ongoing_end(fill_date, $previous_as_of, $ongoing_max_days)
