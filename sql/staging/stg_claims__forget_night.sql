-- Rerunning a night replaces what earlier runs of the same night loaded: their rows of `claims` go.
-- Parameter: $as_of. Acts on claims; input: runs.
delete from claims
where run_id in (select runs.run_id from runs where runs.as_of = $as_of)
