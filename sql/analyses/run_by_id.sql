-- One night's run, by $run_id: every column of the runs table (night, status, recompute, row counts,
-- input files, rules and configuration hashes, the recorded parameters). No row for an unknown run.
-- Input: runs.
select *
from runs
where runs.run_id = $run_id
