-- Rerunning a night replaces what earlier runs of the same night loaded: their rows of `quarantine` go.
-- Parameter: $as_of. Acts on quarantine; input: runs.
delete from quarantine
where run_id in (select runs.run_id from runs where runs.as_of = $as_of)
