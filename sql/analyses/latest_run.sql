-- The run that last wrote the warehouse successfully (the latest to finish): its night, the hashes and
-- parameters the warehouse's tables were computed with. One definition for every reader (incremental
-- nights, pseudonymisation checks, reports, the worklist's settings).
select run_id, as_of, finished_at, config_hash, rules_hash, parameters, engine_fingerprint
from runs
where status = 'success'
order by finished_at desc, run_id desc
limit 1
