-- Rerunning a night replaces what earlier runs of the same night loaded: their rows of `patients` go.
-- Parameter: $as_of. Acts on patients; input: runs.
delete from patients
where run_id in (select runs.run_id from runs where runs.as_of = $as_of)
