-- One alert's latest state (`serosurv alerts show`). Parameter: $id (a full alert id).
select * from alerts where alert_id = $id
