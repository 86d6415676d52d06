-- The alerts worklist of `serosurv alerts list`: alerts in $statuses (quiet ones only with $all) of
-- severity rank $rank or more, plus resolved alerts of rank $unreviewed or more that nobody ever acted on
-- (0: none), the most dangerous first: severity, then priority, then new and changed before ongoing.
-- `status_label` says "resolved, never reviewed" for those kept by `alerts.keep_unreviewed_resolved`
-- (rank $keep). Parameters: $statuses, $rank, $all, $unreviewed, $keep.
select
    *,
    case
        when status = 'resolved' and never_reviewed and coalesce(severity_rank, 0) >= $keep and $keep > 0
            then 'resolved, never reviewed'
        else status
    end as status_label
from alerts
where
    coalesce(severity_rank, 0) >= $rank
    and (
        (list_contains($statuses, status) and ($all or not quiet))
        or ($unreviewed > 0 and status = 'resolved' and never_reviewed and coalesce(severity_rank, 0) >= $unreviewed)
    )
order by
    coalesce(severity_rank, 0) desc,
    priority desc,
    list_position(['new', 'changed', 'ongoing', 'resolved'], status),
    alert_id
