-- The night's worklist: its alerts as they stood that night, new and changed first, then by priority,
-- with the guidance of their rule and the rules and configuration the night ran with.
-- `position` is the worklist's order. Parameters: $run_id, $as_of (the run's night; NULL for every
-- night of the run).
select
    h.alert_id, h.status, h.status_reasons, coalesce(a.quiet and a.as_of = h.as_of, false) as quiet,
    h.priority, h.priority_parts, h.severity, h.patient_id, h.ingredient_a, h.ingredient_b,
    h.rule_id, h.kind, h.first_overlap_date, h.last_overlap_date, h.overlap_days,
    h.longest_overlap_days, h.washout_gap_days, h.initiation_order, h.cross_prescriber,
    h.cross_pharmacy, h.prescriber_ids_a, h.prescriber_ids_b, h.pharmacy_ids_a, h.pharmacy_ids_b,
    h.n_serotonergic_prescribers, h.claim_ids_a, h.claim_ids_b, h.reason_for_service,
    h.clinical_significance, h.other_prescriber_indicator, h.other_pharmacy_indicator,
    h.opened_on, h.last_change_on, r.clinical_guidance as guidance, h.as_of, h.run_id,
    runs.rules_hash, runs.config_hash,
    a.action as last_action, a.action_result as last_result, a.action_at as last_action_at,
    row_number() over (
        order by list_position(['new', 'changed', 'ongoing', 'resolved'], h.status), h.priority desc, h.alert_id
    ) as position
from alert_history as h
left join alerts as a on h.alert_id = a.alert_id
left join (
    select rule_id, any_value(clinical_guidance) as clinical_guidance from rules_catalog group by rule_id
) as r on h.rule_id = r.rule_id
left join runs on h.run_id = runs.run_id
where h.run_id = $run_id and ($as_of is null or h.as_of = $as_of)
order by position
