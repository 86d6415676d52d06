-- Keep one pharmacist action on an alert (validated by transforms/alerts.record_action).
-- Parameters: one per alert_actions column.
insert into alert_actions by name
select
    $action_id as action_id,
    $alert_id as alert_id,
    $acted_at::timestamp as acted_at,
    $operator as operator,
    $night::date as night,
    $status_at_action as status_at_action,
    $action_code as action_code,
    $result_code as result_code,
    $response as response,
    $note as note,
    $snooze_until::date as snooze_until
