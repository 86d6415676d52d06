-- One night's alert states, for alert_history: tonight's current interactions (temp table
-- alert_candidates, built by alert_candidates.sql or, when a later night is recomputed, from that
-- night's stored snapshot) set against each alert's latest state before tonight.
--
-- Identity: a current interaction continues an open (not resolved) alert of the same patient and
-- ingredient pair when their windows overlap or lie within $merge_gap_days of each other, whatever
-- its kind or first date (so a backdated claim that moves the first date, or a washout followed by
-- an overlap, keeps the alert). It continues the oldest such alert. Interactions of a patient and
-- pair that continue no open alert open one new alert, whose id is the first 12 hex digits of
-- md5(patient|ingredient_a|ingredient_b|first date) (plus |night if that id was used before).
-- Resolved alerts never reopen: a recurrence is a new alert.
--
-- Status: new; changed when, against the alert's previous night, the severity rose, a prescriber or
-- pharmacy never seen on the alert appears, a washout became an overlap, or the overlap grew by
-- $overlap_growth_days or more since the alert was last new or changed (0 turns this off);
-- ongoing otherwise; resolved when an open alert has no current interaction tonight.
--
-- Priority (README "Priority"; the weights are $weights, the [alerts.priority] settings), kept with its
-- parts: severity weight x severity rank; + different prescribers; + different pharmacies; recency of
-- the newest fill on either side (within 7 days of the night, else within 30); overlap length up to
-- overlap_max at 30 days; + when three or more prescribers wrote serotonergic drugs in the window. The
-- configuration refuses weights whose sum reaches the severity weight, so severity always comes first. The `washout` part is 0: a washout is never lifted above a concurrent overlap of the same
-- severity (kept in the struct for earlier nights' rows). A resolved alert keeps its last priority,
-- so a contraindicated one never reviewed stays among the contraindicated on the worklist.
--
-- NCPDP-style fields (Telecommunication Standard D.0 DUR/PPS response): reason_for_service 'DD'
-- (439-E4 drug-drug interaction); clinical_significance (528-FS) 1 major or contraindicated,
-- 2 moderate, 3 minor; other_prescriber_indicator (533-FX) 0 not specified, 1 same prescriber,
-- 2 other prescriber; other_pharmacy_indicator (529-FT) 0 not specified, 1 your pharmacy,
-- 3 other pharmacy (2, same chain, cannot be known from claims); previous_fill_date and
-- previous_fill_quantity (530-FU, 531-FV) of other_drug, the side whose newest fill is older (the
-- current_drug is the side filled last; on a tie, ingredient_b).
-- Parameters: $as_of, $run_id, $merge_gap_days, $overlap_growth_days, $weights, $clinical_significance (the
-- NCPDP code of each severity rank, rules/severity_scale.csv).
with previous as (
    select *
    from alert_history
    where as_of < $as_of
    qualify row_number() over (partition by alert_id order by as_of desc) = 1
),

open_alerts as (
    select * from previous where status <> 'resolved'
),

matches as (
    select
        c.interaction_id,
        o.alert_id
    from alert_candidates as c
    inner join open_alerts as o
        on
            c.patient_id = o.patient_id
            and c.ingredient_a = o.ingredient_a
            and c.ingredient_b = o.ingredient_b
            and c.first_overlap_date <= o.last_overlap_date + ($merge_gap_days::integer + 1)
            and c.last_overlap_date >= o.first_overlap_date - ($merge_gap_days::integer + 1)
    qualify row_number() over (
        partition by c.interaction_id order by o.opened_on nulls first, o.alert_id
    ) = 1
),

new_alerts as (
    select
        c.patient_id,
        c.ingredient_a,
        c.ingredient_b,
        left(
            md5(c.patient_id || '|' || c.ingredient_a || '|' || c.ingredient_b || '|' || min(c.first_overlap_date)::varchar),
            12
        ) as base_id
    from alert_candidates as c
    where c.interaction_id not in (select matches.interaction_id from matches)
    group by c.patient_id, c.ingredient_a, c.ingredient_b
),

new_ids as (
    select
        new_alerts.*,
        case
            when new_alerts.base_id in (select previous.alert_id from previous)
                then left(md5(new_alerts.base_id || '|' || $as_of::varchar), 12)
            else new_alerts.base_id
        end as alert_id
    from new_alerts
),

assigned as (
    select
        coalesce(matches.alert_id, new_ids.alert_id) as alert_id,
        matches.alert_id is null as opened_tonight,
        c
    from alert_candidates as c
    left join matches on c.interaction_id = matches.interaction_id
    left join new_ids
        on
            matches.alert_id is null
            and c.patient_id = new_ids.patient_id
            and c.ingredient_a = new_ids.ingredient_a
            and c.ingredient_b = new_ids.ingredient_b
),

-- An alert continued or opened by one interaction (nearly all) takes that interaction's values as they are
-- (its lists are already sorted and distinct: interactions.sql); only the alerts of several interactions
-- combine theirs. Aggregating every alert cost twice as much (3.8 against 2.2 s for 127,736 new alerts).
several as (
    select alert_id from assigned group by alert_id having count(*) > 1
),

grouped_several as (
    select
        alert_id,
        bool_and(opened_tonight) as opened_tonight,
        any_value(c.patient_id) as patient_id,
        any_value(c.ingredient_a) as ingredient_a,
        any_value(c.ingredient_b) as ingredient_b,
        first(c.rule_id order by c.severity_rank desc, c.rule_id) as rule_id,
        first(c.severity order by c.severity_rank desc, c.rule_id) as severity,
        max(c.severity_rank) as severity_rank,
        case when bool_or(c.kind = 'overlap') then 'overlap' else 'washout' end as kind,
        min(c.first_overlap_date) as first_overlap_date,
        max(c.last_overlap_date) as last_overlap_date,
        sum(c.overlap_days)::integer as overlap_days,
        max(c.longest_overlap_days)::integer as longest_overlap_days,
        min(c.washout_gap_days)::integer as washout_gap_days,
        first(c.initiation_order order by c.first_overlap_date, c.interaction_id) as initiation_order,
        list_sort(list_distinct(flatten(list(c.prescriber_ids_a)))) as prescriber_ids_a,
        list_sort(list_distinct(flatten(list(c.prescriber_ids_b)))) as prescriber_ids_b,
        list_sort(list_distinct(flatten(list(c.pharmacy_ids_a)))) as pharmacy_ids_a,
        list_sort(list_distinct(flatten(list(c.pharmacy_ids_b)))) as pharmacy_ids_b,
        list_sort(list_distinct(flatten(list(c.claim_ids_a)))) as claim_ids_a,
        list_sort(list_distinct(flatten(list(c.claim_ids_b)))) as claim_ids_b,
        max(c.n_serotonergic_prescribers)::integer as n_serotonergic_prescribers,
        first(c.interaction_id order by c.severity_rank desc, c.last_overlap_date desc, c.interaction_id)
            as interaction_id,
        list_sort(list(c.interaction_id)) as interaction_ids,
        max(c.last_fill_date_a) as last_fill_date_a,
        first(c.last_fill_quantity_a order by c.last_fill_date_a desc nulls last, c.interaction_id)
            as last_fill_quantity_a,
        max(c.last_fill_date_b) as last_fill_date_b,
        first(c.last_fill_quantity_b order by c.last_fill_date_b desc nulls last, c.interaction_id)
            as last_fill_quantity_b,
        -- the interactions in id order: sorted as a list keyed by id (an ordered list aggregate costs twice as much)
        list_transform(list_sort(list(struct_pack(k := c.interaction_id, v := c))), lambda s: s.v) as snapshot
    from assigned
    where alert_id in (select several.alert_id from several)
    group by alert_id
),

grouped_one as (
    select
        alert_id,
        opened_tonight,
        c.patient_id,
        c.ingredient_a,
        c.ingredient_b,
        c.rule_id,
        c.severity,
        c.severity_rank,
        c.kind,
        c.first_overlap_date,
        c.last_overlap_date,
        c.overlap_days::integer as overlap_days,
        c.longest_overlap_days::integer as longest_overlap_days,
        c.washout_gap_days::integer as washout_gap_days,
        c.initiation_order,
        c.prescriber_ids_a,
        c.prescriber_ids_b,
        c.pharmacy_ids_a,
        c.pharmacy_ids_b,
        c.claim_ids_a,
        c.claim_ids_b,
        c.n_serotonergic_prescribers::integer as n_serotonergic_prescribers,
        c.interaction_id,
        [c.interaction_id] as interaction_ids,
        c.last_fill_date_a,
        c.last_fill_quantity_a,
        c.last_fill_date_b,
        c.last_fill_quantity_b,
        [c] as snapshot
    from assigned
    where alert_id not in (select several.alert_id from several)
),

grouped as (
    select * from grouped_one
    union all by name
    select * from grouped_several
),

fragmentation as (
    select
        *,
        case
            when len(prescriber_ids_a) = 0 or len(prescriber_ids_b) = 0 then null
            else not list_has_any(prescriber_ids_a, prescriber_ids_b)
        end as cross_prescriber,
        case
            when len(pharmacy_ids_a) = 0 or len(pharmacy_ids_b) = 0 then null
            else not list_has_any(pharmacy_ids_a, pharmacy_ids_b)
        end as cross_pharmacy,
        -- the side filled last is the "current" drug, as in a point-of-sale DUR response
        coalesce(last_fill_date_a > last_fill_date_b, last_fill_date_b is null) as a_is_current,
        greatest(last_fill_date_a, last_fill_date_b) as newest_fill_date
    from grouped
),

classified as (
    select
        f.*,
        p.alert_id is not null as continues,
        list_distinct(list_concat(coalesce(p.seen_prescriber_ids, []), f.prescriber_ids_a, f.prescriber_ids_b))
            as all_prescribers,
        list_distinct(list_concat(coalesce(p.seen_pharmacy_ids, []), f.pharmacy_ids_a, f.pharmacy_ids_b))
            as all_pharmacies,
        case
            when p.alert_id is null then []::varchar[]
            else list_filter(
                [
                    case when f.severity_rank > coalesce(p.severity_rank, 0) then 'severity_raised' end,
                    case
                        when
                            p.seen_prescriber_ids is not null
                            and not list_has_all(p.seen_prescriber_ids, list_concat(f.prescriber_ids_a, f.prescriber_ids_b))
                            then 'new_prescriber'
                    end,
                    case
                        when
                            p.seen_pharmacy_ids is not null
                            and not list_has_all(p.seen_pharmacy_ids, list_concat(f.pharmacy_ids_a, f.pharmacy_ids_b))
                            then 'new_pharmacy'
                    end,
                    case when p.kind = 'washout' and f.kind = 'overlap' then 'washout_became_overlap' end,
                    case
                        when
                            $overlap_growth_days::integer > 0
                            and f.overlap_days - coalesce(p.baseline_overlap_days, p.overlap_days, 0)
                            >= $overlap_growth_days::integer
                            then 'overlap_grew'
                    end
                ],
                lambda reason: reason is not null
            )
        end as reasons,
        p.opened_on as previous_opened_on,
        p.first_seen_run as previous_first_seen_run,
        p.last_change_on as previous_last_change_on,
        p.baseline_overlap_days as previous_baseline
    from fragmentation as f
    left join open_alerts as p on f.alert_id = p.alert_id and not f.opened_tonight
),

scored as (
    select
        *,
        case when not continues then 'new' when len(reasons) > 0 then 'changed' else 'ongoing' end as status,
        {
            'severity': $weights.severity * severity_rank,
            'cross_prescriber': $weights.cross_prescriber * coalesce(cross_prescriber::integer, 0),
            'cross_pharmacy': $weights.cross_pharmacy * coalesce(cross_pharmacy::integer, 0),
            'washout': 0.0,
            'recency': case
                when datediff('day', newest_fill_date, $as_of::date) <= 7 then $weights.recent_week
                when datediff('day', newest_fill_date, $as_of::date) <= 30 then $weights.recent_month
                else 0.0
            end,
            'overlap': round(least(overlap_days, 30) / 30.0 * $weights.overlap_max, 2),
            'burden': $weights.burden * (n_serotonergic_prescribers >= 3)::integer
        } as priority_parts
    from classified
)

select
    $as_of::date as as_of,
    $run_id as run_id,
    alert_id,
    status,
    severity,
    priority_parts.severity + priority_parts.cross_prescriber + priority_parts.cross_pharmacy
    + priority_parts.washout + priority_parts.recency + priority_parts.overlap + priority_parts.burden
        as priority,
    patient_id,
    ingredient_a,
    ingredient_b,
    rule_id,
    kind,
    first_overlap_date,
    last_overlap_date,
    overlap_days,
    cross_prescriber,
    cross_pharmacy,
    coalesce(previous_first_seen_run, $run_id) as first_seen_run,
    severity_rank,
    longest_overlap_days,
    washout_gap_days,
    initiation_order,
    prescriber_ids_a,
    prescriber_ids_b,
    pharmacy_ids_a,
    pharmacy_ids_b,
    claim_ids_a,
    claim_ids_b,
    n_serotonergic_prescribers,
    interaction_id,
    interaction_ids,
    reasons as status_reasons,
    priority_parts,
    'DD' as reason_for_service,
    list_extract($clinical_significance::varchar[], severity_rank) as clinical_significance,
    case cross_prescriber when true then '2' when false then '1' else '0' end as other_prescriber_indicator,
    case cross_pharmacy when true then '3' when false then '1' else '0' end as other_pharmacy_indicator,
    case when a_is_current then ingredient_a else ingredient_b end as current_drug,
    case when a_is_current then ingredient_b else ingredient_a end as other_drug,
    case when a_is_current then last_fill_date_b else last_fill_date_a end as previous_fill_date,
    case when a_is_current then last_fill_quantity_b else last_fill_quantity_a end as previous_fill_quantity,
    newest_fill_date,
    coalesce(previous_opened_on, $as_of::date) as opened_on,
    case when status in ('new', 'changed') then $as_of::date else previous_last_change_on end as last_change_on,
    list_sort(all_prescribers) as seen_prescriber_ids,
    list_sort(all_pharmacies) as seen_pharmacy_ids,
    case when status in ('new', 'changed') then overlap_days else coalesce(previous_baseline, overlap_days) end
        as baseline_overlap_days,
    snapshot,
    now()::timestamp as computed_at
from scored

union all by name

-- open alerts with no current interaction tonight: resolved, with their last state
select
    * replace (
        $as_of::date as as_of,
        $run_id as run_id,
        'resolved' as status,
        ['no_longer_current'] as status_reasons,
        null as priority_parts,
        null as snapshot,
        now()::timestamp as computed_at
    )
from open_alerts
where alert_id not in (select assigned.alert_id from assigned)
