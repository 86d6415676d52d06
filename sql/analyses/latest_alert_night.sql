-- The newest night with alert states (the night `serosurv alerts list` shows), NULL before the first.
select max(as_of) as night from alert_history
