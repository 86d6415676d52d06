-- The successful nights just before and just after $as_of (NULL when there is none): whether a night's report
-- compares with an earlier night, or is the warehouse's first (a night without alerts has no alert_history
-- rows, so alert_history alone cannot tell), or the earliest of nights run out of date order (a backfill).
-- Parameter: $as_of. Input: runs.
select
    (select max(runs.as_of) from runs where runs.status = 'success' and runs.as_of < $as_of) as previous_night,
    (select min(runs.as_of) from runs where runs.status = 'success' and runs.as_of > $as_of) as next_night
