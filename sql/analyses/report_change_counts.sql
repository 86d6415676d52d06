-- Tonight's own alerts (not those carried over from earlier nights) by status, severity and the reasons
-- of a change, for the audit report's "what changed since the last night". Columns: status, severity,
-- status_reasons, alerts. Input: report_worklist (the staged worklist, sql/marts/worklist.sql).
select status, severity, status_reasons, count(*) as alerts
from report_worklist
where not carried_over
group by all
order by all
