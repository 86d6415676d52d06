-- One patient's alert states on every night up to $night (alert_history), with each alert's latest
-- action and whether it is quiet (alerts), for `serosurv explain`: which alert an interaction was, its
-- status and priority parts that night, and when an earlier one resolved. Parameters: $patient, $night.
-- Inputs: alert_history, alerts.
select
    history.as_of,
    history.alert_id,
    history.status,
    history.status_reasons,
    history.severity,
    history.priority,
    history.priority_parts,
    history.ingredient_a,
    history.ingredient_b,
    history.rule_id,
    history.kind,
    history.first_overlap_date,
    history.last_overlap_date,
    history.interaction_ids,
    history.opened_on,
    history.clinical_significance,
    history.other_prescriber_indicator,
    history.other_pharmacy_indicator,
    history.reason_for_service,
    alerts.quiet,
    alerts.action as last_action,
    alerts.action_result as last_result,
    alerts.action_at as last_action_at,
    alerts.snooze_until
from alert_history as history
left join alerts on history.alert_id = alerts.alert_id
where history.patient_id = $patient and history.as_of <= $night
order by history.as_of, history.alert_id
