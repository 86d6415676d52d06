-- The alerts an id or id prefix names: the alert whose id is $id, and those whose id starts with it when
-- it has at least 6 characters (the caller refuses an ambiguous prefix). Parameter: $id (lower case).
select alert_id, as_of, status
from alerts
where alert_id = $id or (length($id) >= 6 and starts_with(alert_id, $id))
order by alert_id
