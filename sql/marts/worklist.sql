-- The night's worklist: its alerts as they stood that night, the most dangerous first (severity, then
-- priority, then new and changed before ongoing), with the guidance of their rule and the rules and
-- configuration the night ran with. Resolved alerts of severity rank $unreviewed_rank or more (4:
-- contraindicated; 0: none) that nobody ever acted on stay on the worklist of later nights as
-- "resolved, never reviewed" (`unreviewed`), until someone records an action.
-- `position` is the worklist's order. Parameters: $run_id, $as_of (the run's night; NULL for every
-- night of the run), $unreviewed_rank. Input besides the tables: approximate_claims
-- (sql/intermediate/int_approximate_claims.sql).
with night_rows as (
    select *
    from alert_history
    where run_id = $run_id and ($as_of is null or as_of = $as_of)
),

carried as (
    -- resolved earlier (resolved is an alert's last state), never acted on
    select *
    from alert_history
    where
        status = 'resolved'
        and $unreviewed_rank::integer > 0
        and coalesce(severity_rank, 0) >= $unreviewed_rank::integer
        and as_of < coalesce(
            $as_of::date, (select max(runs.as_of) from runs where runs.run_id = $run_id),
            (select max(night_rows.as_of) from night_rows)
        )
        and alert_id not in (select alert_actions.alert_id from alert_actions)
        and alert_id not in (select night_rows.alert_id from night_rows)
),

listed as (
    select *, false as carried_over from night_rows
    union all by name
    select *, true as carried_over from carried
),

-- drug names matched only approximately (misspellings) among the alerts' claims: shown on the alert
approximate as (
    select listed_claims.alert_id, list(distinct approximate_claims.drug_name order by approximate_claims.drug_name)
        as approximate_names
    from (
        select alert_id, patient_id, unnest(list_concat(claim_ids_a, claim_ids_b)) as claim_id
        from listed
        where exists (select 1 from approximate_claims)
    ) as listed_claims
    inner join approximate_claims
        on listed_claims.patient_id = approximate_claims.patient_id and listed_claims.claim_id = approximate_claims.claim_id
    group by listed_claims.alert_id
)

select
    h.alert_id, h.status,
    h.status = 'resolved' and coalesce(h.severity_rank, 0) >= $unreviewed_rank::integer
    and $unreviewed_rank::integer > 0 and a.never_reviewed is not false as unreviewed,
    h.status_reasons, coalesce(a.quiet and a.as_of = h.as_of, false) as quiet,
    h.priority, h.priority_parts, h.severity, h.patient_id, h.ingredient_a, h.ingredient_b,
    h.rule_id, h.kind, h.first_overlap_date, h.last_overlap_date, h.overlap_days,
    h.longest_overlap_days, h.washout_gap_days, h.initiation_order, h.cross_prescriber,
    h.cross_pharmacy, h.prescriber_ids_a, h.prescriber_ids_b, h.pharmacy_ids_a, h.pharmacy_ids_b,
    h.n_serotonergic_prescribers, h.claim_ids_a, h.claim_ids_b, h.reason_for_service,
    h.clinical_significance, h.other_prescriber_indicator, h.other_pharmacy_indicator,
    h.opened_on, h.last_change_on, r.clinical_guidance as guidance, h.as_of, h.run_id,
    runs.rules_hash, runs.config_hash,
    a.action as last_action, a.action_result as last_result, a.action_at as last_action_at,
    h.carried_over, coalesce(approximate.approximate_names, []::varchar[]) as approximate_names,
    row_number() over (
        order by
            coalesce(h.severity_rank, 0) desc, h.priority desc,
            list_position(['new', 'changed', 'ongoing', 'resolved'], h.status), h.alert_id
    ) as position
from listed as h
left join alerts as a on h.alert_id = a.alert_id
left join (
    select rule_id, any_value(clinical_guidance) as clinical_guidance from rules_catalog group by rule_id
) as r on h.rule_id = r.rule_id
left join runs on h.run_id = runs.run_id
left join approximate on h.alert_id = approximate.alert_id
order by position
