-- The actions recorded on one alert, oldest first (`serosurv alerts show`). Parameter: $id.
select * from alert_actions where alert_id = $id order by acted_at, action_id
