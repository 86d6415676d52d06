-- Counts over the whole staged worklist (report_worklist), for the audit report's headings: alerts per
-- status and quiet flag (the night's own alerts, not those carried over), and one row with status
-- 'unreviewed' counting the resolved alerts kept on the worklist because nobody reviewed them (not quiet).
-- Columns: status, quiet, alerts. Input: report_worklist.
select status, quiet, count(*) as alerts
from report_worklist
where not carried_over
group by status, quiet
union all
select 'unreviewed' as status, false as quiet, count(*) as alerts
from report_worklist
where unreviewed and not quiet
