-- The latest run of any outcome (a failed night's too): the one `serosurv quarantine list` shows by
-- default. Input: runs.
select *
from runs
order by started_at desc, run_id desc
limit 1
