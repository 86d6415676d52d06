-- How many alerts the night $as_of left in each status (the night's summary). Parameter: $as_of.
select status, count(*) as alerts
from alert_history
where as_of = $as_of
group by status
order by status
