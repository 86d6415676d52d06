-- alert_candidates for a night recomputed after an earlier one changed: the current interactions that
-- night saw, from its stored alert_history.snapshot (the same columns alert_candidates.sql builds).
-- Parameter: $as_of (the night recomputed).
select unnest(interaction)
from (
    select unnest(snapshot) as interaction
    from alert_history
    where as_of = $as_of and snapshot is not null
) as snapshot_rows
