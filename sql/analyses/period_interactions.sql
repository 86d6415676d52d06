-- Every interaction active in the period $date_from .. $date_to (its window, first to last co-exposure
-- day, or the day a washout's second drug started, meets the period), for `serosurv audit`, in the audit's
-- order (`position`): severity, then fragmentation (`fragmentation_rank`: 1 different prescribers and
-- different pharmacies, 2 different prescribers, 3 different pharmacies, 4 not known, 5 the same
-- prescriber and pharmacy), then overlap days (longest first), first day, patient, pair. Each comes with
-- the alert it was part of, if any (the alert of its patient and pair whose window meets it, one that
-- listed this interaction first; its latest state, priority and latest action), the NCPDP DUR fields
-- of an alert, the rule's guidance and the drug names among its claims that were matched approximately.
-- Reads only. Parameters: $date_from, $date_to, $clinical_significance (the NCPDP code of each severity
-- rank, rules/severity_scale.csv). Inputs: interactions, alerts, rules_catalog, approximate_claims
-- (sql/intermediate/int_approximate_claims.sql, given as an input).
with period as (
    select *
    from interactions
    where first_overlap_date <= $date_to and coalesce(last_overlap_date, first_overlap_date) >= $date_from
),

alerted as (
    select
        period.interaction_id,
        alerts.alert_id,
        alerts.status as alert_status,
        alerts.as_of as alert_night,
        alerts.opened_on as alert_opened_on,
        alerts.priority,
        alerts.priority_parts,
        alerts.quiet,
        alerts.action as last_action,
        alerts.action_result as last_result,
        alerts.action_at as last_action_at
    from period
    inner join alerts
        on
            period.patient_id = alerts.patient_id
            and period.ingredient_a = alerts.ingredient_a
            and period.ingredient_b = alerts.ingredient_b
            and alerts.first_overlap_date <= coalesce(period.last_overlap_date, period.first_overlap_date)
            and coalesce(alerts.last_overlap_date, alerts.first_overlap_date) >= period.first_overlap_date
    qualify row_number() over (
        partition by period.interaction_id
        order by
            coalesce(list_contains(alerts.interaction_ids, period.interaction_id), false) desc,
            alerts.opened_on, alerts.alert_id
    ) = 1
),

approximate as (
    select
        period_claims.interaction_id,
        list(distinct approximate_claims.drug_name order by approximate_claims.drug_name) as approximate_names
    from (
        select interaction_id, patient_id, unnest(list_concat(claim_ids_a, claim_ids_b)) as claim_id
        from period
        where exists (select 1 from approximate_claims)
    ) as period_claims
    inner join approximate_claims
        on period_claims.patient_id = approximate_claims.patient_id and period_claims.claim_id = approximate_claims.claim_id
    group by period_claims.interaction_id
),

ranked as (
    select
        period.*,
        case
            when period.cross_prescriber and period.cross_pharmacy then 1
            when period.cross_prescriber then 2
            when period.cross_pharmacy then 3
            when period.cross_prescriber is null or period.cross_pharmacy is null then 4
            else 5
        end as fragmentation_rank
    from period
)

select
    row_number() over (
        order by
            coalesce(ranked.severity_rank, 0) desc, ranked.fragmentation_rank, ranked.overlap_days desc,
            ranked.first_overlap_date, ranked.patient_id, ranked.ingredient_a, ranked.ingredient_b, ranked.kind,
            ranked.interaction_id
    ) as position,
    ranked.interaction_id,
    ranked.severity,
    ranked.severity_rank,
    ranked.fragmentation_rank,
    ranked.patient_id,
    ranked.ingredient_a,
    ranked.ingredient_b,
    ranked.rule_id,
    ranked.kind,
    ranked.first_overlap_date,
    ranked.last_overlap_date,
    ranked.overlap_days,
    ranked.longest_overlap_days,
    ranked.washout_gap_days,
    ranked.initiation_order,
    ranked.cross_prescriber,
    ranked.cross_pharmacy,
    coalesce(ranked.prescriber_ids_a, []::varchar[]) as prescriber_ids_a,
    coalesce(ranked.prescriber_ids_b, []::varchar[]) as prescriber_ids_b,
    coalesce(ranked.pharmacy_ids_a, []::varchar[]) as pharmacy_ids_a,
    coalesce(ranked.pharmacy_ids_b, []::varchar[]) as pharmacy_ids_b,
    coalesce(ranked.claim_ids_a, []::varchar[]) as claim_ids_a,
    coalesce(ranked.claim_ids_b, []::varchar[]) as claim_ids_b,
    ranked.n_serotonergic_prescribers,
    'DD' as reason_for_service,
    list_extract($clinical_significance::varchar[], ranked.severity_rank::integer) as clinical_significance,
    case ranked.cross_prescriber when true then '2' when false then '1' else '0' end as other_prescriber_indicator,
    case ranked.cross_pharmacy when true then '3' when false then '1' else '0' end as other_pharmacy_indicator,
    alerted.alert_id,
    alerted.alert_status as status,
    alerted.alert_night,
    alerted.alert_opened_on,
    alerted.priority,
    alerted.priority_parts,
    coalesce(alerted.quiet, false) as quiet,
    alerted.last_action,
    alerted.last_result,
    alerted.last_action_at,
    guidance.clinical_guidance as guidance,
    coalesce(approximate.approximate_names, []::varchar[]) as approximate_names
from ranked
left join alerted on ranked.interaction_id = alerted.interaction_id
left join (
    select rule_id, any_value(clinical_guidance) as clinical_guidance from rules_catalog group by rule_id
) as guidance on ranked.rule_id = guidance.rule_id
left join approximate on ranked.interaction_id = approximate.interaction_id
order by position
