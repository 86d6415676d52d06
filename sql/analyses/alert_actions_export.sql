-- Every pharmacist action, oldest first, with the alert's patient, pair and severity (for
-- `serosurv alerts export`; the vocabulary labels are added in Python from rules/alert_vocabularies.csv).
select
    actions.action_id,
    actions.alert_id,
    alerts.patient_id,
    alerts.ingredient_a,
    alerts.ingredient_b,
    alerts.severity,
    actions.acted_at,
    actions.operator,
    actions.night,
    actions.status_at_action,
    actions.action_code,
    actions.result_code,
    actions.response,
    actions.snooze_until,
    actions.note
from alert_actions as actions
left join alerts using (alert_id)
order by actions.acted_at, actions.action_id
