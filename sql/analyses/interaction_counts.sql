-- Interactions by kind and severity, for the night's summary (interactions_<kind>_<severity>).
-- Input: interactions.
select kind, severity, count(*) as interactions
from interactions
group by kind, severity
order by kind, severity
