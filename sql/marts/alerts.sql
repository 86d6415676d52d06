-- `alerts`: every alert at its latest night (from alert_history), with its first and last run and
-- its latest action. An alert is quiet (off the default worklist) when its latest action was taken
-- on or after the night it was last new or changed, unless that action's snooze date has come
-- (snooze_until <= the newest night in the warehouse): a change, or the end of a
-- snooze, puts it back. `never_reviewed`: no action was ever recorded on the alert (a resolved one that
-- is also contraindicated stays on the worklist until someone acts on it). No parameters.
with latest as (
    select *
    from alert_history
    qualify row_number() over (partition by alert_id order by as_of desc) = 1
),

first_seen as (
    select alert_id, arg_min(run_id, as_of) as first_seen_run from alert_history group by alert_id
),

last_action as (
    select *
    from alert_actions
    qualify row_number() over (partition by alert_id order by acted_at desc, action_id desc) = 1
)

select
    latest.* exclude (run_id, first_seen_run, seen_prescriber_ids, seen_pharmacy_ids, baseline_overlap_days,
        snapshot, computed_at),
    first_seen.first_seen_run,
    latest.run_id as last_seen_run,
    last_action.action_code as action,
    last_action.acted_at as action_at,
    last_action.note as action_note,
    last_action.result_code as action_result,
    last_action.response as action_response,
    last_action.operator as action_operator,
    last_action.snooze_until,
    coalesce(
        last_action.night >= latest.last_change_on
        and (last_action.snooze_until is null or last_action.snooze_until > (select max(as_of) from alert_history)),
        false
    ) as quiet,
    last_action.alert_id is null as never_reviewed
from latest
inner join first_seen on latest.alert_id = first_seen.alert_id
left join last_action on latest.alert_id = last_action.alert_id
