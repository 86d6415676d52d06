-- The successful nights just before and just after $as_of (NULL when there is none), and how many of the
-- alerts were open (not resolved) on the night before: what the audit report's first page compares tonight
-- with. Read from runs, not alert_history: a night without alerts has no alert_history rows, yet it is the
-- night before; a night with neither is the warehouse's first, or the earliest of nights run out of date order
-- (a backfill). Parameter: $as_of. Inputs: runs, alert_history.
with previous as (
    select max(runs.as_of) as as_of from runs where runs.status = 'success' and runs.as_of < $as_of
)

select
    previous.as_of as previous_night,
    (
        select count(*)
        from alert_history
        where alert_history.as_of = previous.as_of and alert_history.status <> 'resolved'
    ) as previous_open,
    (select min(runs.as_of) from runs where runs.status = 'success' and runs.as_of > $as_of) as next_night
from previous
