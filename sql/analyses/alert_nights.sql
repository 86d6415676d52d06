-- One alert's state on each night it was seen, oldest first (`serosurv alerts show`). Parameter: $id.
select
    as_of,
    run_id,
    status,
    status_reasons,
    severity,
    priority,
    kind,
    overlap_days,
    last_overlap_date,
    prescriber_ids_a,
    prescriber_ids_b,
    pharmacy_ids_a,
    pharmacy_ids_b
from alert_history
where alert_id = $id
order by as_of
