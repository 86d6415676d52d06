-- The nights after $night already in the warehouse (in alert_history or with a successful run), in date
-- order, with the run that wrote each (its alert rows' run, else its latest successful run) and whether
-- it was written before alerts kept snapshots (an open alert without one: it cannot be recomputed).
-- Parameter: $night.
with later_nights as (
    select as_of from alert_history where as_of > $night
    union
    select as_of from runs where status = 'success' and as_of > $night
)

select
    later_nights.as_of,
    coalesce(
        (select any_value(history.run_id) from alert_history as history where history.as_of = later_nights.as_of),
        (
            select arg_max(runs.run_id, runs.finished_at)
            from runs
            where runs.as_of = later_nights.as_of and runs.status = 'success'
        )
    ) as run_id,
    exists (
        select 1
        from alert_history as history
        where history.as_of = later_nights.as_of and history.status <> 'resolved' and history.snapshot is null
    ) as before_snapshots
from later_nights
order by later_nights.as_of
