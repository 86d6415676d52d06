-- Quality dashboard: what pharmacists did about alerts on the nights from $date_from to $date_to (the
-- night an action was recorded in, alert_actions.night, not the clock time it was typed): per NCPDP
-- professional service code and result of service code ('none' when not given), the number of alerts
-- acted on, most frequent first. No identifier leaves this query. Input: alert_actions.
select
    coalesce(alert_actions.action_code, 'none') as action,
    coalesce(alert_actions.result_code, 'none') as result,
    count(distinct alert_actions.alert_id) as alerts
from alert_actions
where coalesce(alert_actions.night, alert_actions.acted_at::date) between $date_from::date and $date_to::date
group by all
order by alerts desc, action, result
