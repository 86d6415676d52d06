-- The last night with alert states before $as_of and how many of its alerts were open (not resolved)
-- that night: what the audit report's first page compares tonight with. No row before the first night.
-- Parameter: $as_of. Input: alert_history.
select as_of, count(*) filter (where status <> 'resolved') as open_alerts
from alert_history
where as_of = (select max(earlier.as_of) from alert_history as earlier where earlier.as_of < $as_of)
group by as_of
