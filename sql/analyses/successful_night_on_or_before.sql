-- The latest successful run of a night on or before $as_of (latest to finish), whose recorded settings
-- `serosurv explain --as-of` replays that night with; no row when every successful night is later.
-- Parameter: $as_of. Input: runs.
select run_id, as_of, finished_at, config_hash, rules_hash, parameters, engine_fingerprint
from runs
where status = 'success' and as_of <= $as_of
order by as_of desc, finished_at desc, run_id desc
limit 1
