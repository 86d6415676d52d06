-- The alerts the audit report shows, from the night's worklist staged as the temp table report_worklist
-- (sql/marts/worklist.sql): every worklist column plus `report_group` ('review': not resolved, or resolved
-- and never reviewed; 'resolved'; 'quiet': acted on and quiet until it changes), in worklist order, and
-- of each group only the first $shown (the worklist files have every alert). Input: report_worklist.
-- Parameter: $shown.
with grouped as (
    select
        *,
        case
            when quiet then 'quiet'
            when status <> 'resolved' or unreviewed then 'review'
            else 'resolved'
        end as report_group
    from report_worklist
)

select *
from grouped
qualify row_number() over (partition by report_group order by position) <= $shown
order by position
