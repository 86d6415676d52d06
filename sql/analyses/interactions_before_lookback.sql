-- Interactions whose last co-exposure day is more than $lookback_days ([alerts] lookback_days) before the
-- night $as_of: never current, so on no worklist. A first night on a warehouse loaded with years of history
-- counts them by severity on its report, so that "1 new alert" is not read as "1 interaction in the data".
-- Parameters: $as_of, $lookback_days. Input: interactions.
select severity, count(*) as interactions, min(first_overlap_date) as first_overlap_date
from interactions
where last_overlap_date < $as_of - $lookback_days::integer
group by severity
order by max(severity_rank) desc, severity
