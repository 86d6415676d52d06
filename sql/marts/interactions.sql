-- Interactions: pairs of different ingredients of one patient whose episodes overlap (at least the
-- rule's minimum days) or where one starts inside the other's washout window, decided by the most
-- severe matching rule. Overlap or washout periods of one pair and kind separated by at most
-- $merge_gap_days form one interaction. Each side lists the fills (and their prescribers and
-- pharmacies) that cover the interaction's days; unknown prescribers are neither same nor different.
-- Inputs: episodes, episode_fills, rule_pairs; macro sorted_distinct (sql/macros/sorted_distinct.sql).
-- Parameters: $merge_gap_days, $extension_days.
-- Episodes of two different ingredients of one patient, joined before the rules (materialised): with
-- the statistics of freshly written episodes the planner would join the rules first (17M rows at 10M
-- claims, 3.6 s instead of 0.2 s).
with same_patient as materialized (
    select
        a.patient_id,
        a.ingredient as ingredient_a,
        b.ingredient as ingredient_b,
        a.episode_start as start_a,
        a.episode_end as end_a,
        a.supply_end as supply_end_a,
        b.episode_start as start_b,
        b.episode_end as end_b,
        b.supply_end as supply_end_b,
        a.routes as routes_a,
        b.routes as routes_b
    from episodes as a
    inner join episodes as b on a.patient_id = b.patient_id and a.ingredient < b.ingredient
),

-- The rules of each ingredient pair: most pairs have one (2,730 pairs, 51 with two: route-specific rules),
-- which needs no choosing (same_patient has one row per pair of episodes); a pair with several takes the
-- most severe rule that matches. Numbering every pair of episodes instead cost a sixth of this statement.
-- (matched is read twice and joined twice: joining the rules again is cheaper than storing 1.6M rows.)
rule_choices as (
    select *, count(*) over (partition by ingredient_a, ingredient_b) as n_rules
    from rule_pairs
),

matched as not materialized (
    select
        same_patient.patient_id,
        same_patient.ingredient_a,
        same_patient.ingredient_b,
        same_patient.start_a,
        same_patient.end_a,
        same_patient.start_b,
        same_patient.end_b,
        same_patient.supply_end_a,
        same_patient.supply_end_b,
        rule_choices.rule_id,
        rule_choices.severity,
        rule_choices.severity_rank,
        rule_choices.washout_a_then_b,
        rule_choices.washout_b_then_a,
        greatest(coalesce(rule_choices.min_overlap_days, 1), 1) as min_overlap_days,
        rule_choices.n_rules
    from same_patient
    inner join rule_choices
        on
            same_patient.ingredient_a = rule_choices.ingredient_a
            and same_patient.ingredient_b = rule_choices.ingredient_b
            and (rule_choices.route_a is null or list_contains(same_patient.routes_a, rule_choices.route_a))
            and (rule_choices.route_b is null or list_contains(same_patient.routes_b, rule_choices.route_b))
),

episode_pairs as (
    select * exclude (n_rules) from matched where n_rules = 1
    union all
    select * exclude (n_rules)
    from matched
    where n_rules > 1
    -- one row per pair of episodes (an episode is its patient, ingredient and start: the episodes of one
    -- ingredient never overlap), keyed by those rather than by the episodes' md5 ids, which are slower to sort
    qualify row_number() over (
        partition by patient_id, ingredient_a, ingredient_b, start_a, start_b
        order by severity_rank desc, rule_id
    ) = 1
),

overlap_events as (
    select
        patient_id, ingredient_a, ingredient_b, rule_id, severity, severity_rank,
        'overlap' as kind,
        greatest(start_a, start_b) as event_start,
        least(end_a, end_b) as event_end,
        datediff('day', greatest(start_a, start_b), least(end_a, end_b)) + 1 as overlap_days,
        null::integer as washout_gap_days,
        case when start_a < start_b then 'a_first' when start_b < start_a then 'b_first' else 'same_day' end
            as initiation_order,
        greatest(start_a, start_b) as window_a_start,
        least(end_a, end_b) as window_a_end,
        greatest(start_a, start_b) as window_b_start,
        least(end_a, end_b) as window_b_end
    from episode_pairs
    where datediff('day', greatest(start_a, start_b), least(end_a, end_b)) + 1 >= min_overlap_days
),

washout_events as (
    -- b starts after a's episode and within washout_a_then_b days after a's carried-over supply end (the
    -- day the patient runs out taking every dispensed dose): the gap is counted from there, so it is
    -- 0 or less when b starts while early-refilled supply of a is still on hand
    select
        patient_id, ingredient_a, ingredient_b, rule_id, severity, severity_rank,
        'washout' as kind,
        start_b as event_start,
        start_b as event_end,
        0 as overlap_days,
        datediff('day', supply_end_a, start_b) as washout_gap_days,
        'a_first' as initiation_order,
        end_a as window_a_start,
        end_a as window_a_end,
        start_b as window_b_start,
        start_b as window_b_end
    from episode_pairs
    where washout_a_then_b is not null and start_b > end_a and datediff('day', supply_end_a, start_b) <= washout_a_then_b
    union all
    -- a starts after b's episode and within washout_b_then_a days after b's carried-over supply end
    select
        patient_id, ingredient_a, ingredient_b, rule_id, severity, severity_rank,
        'washout' as kind,
        start_a as event_start,
        start_a as event_end,
        0 as overlap_days,
        datediff('day', supply_end_b, start_a) as washout_gap_days,
        'b_first' as initiation_order,
        start_a as window_a_start,
        start_a as window_a_end,
        end_b as window_b_start,
        end_b as window_b_end
    from episode_pairs
    where washout_b_then_a is not null and start_a > end_b and datediff('day', supply_end_b, start_a) <= washout_b_then_a
),

events as (
    select * from overlap_events
    union all
    select * from washout_events
),

breaks as (
    select
        *,
        case
            when
                max(event_end) over (
                    partition by patient_id, ingredient_a, ingredient_b, kind order by event_start, event_end
                    rows between unbounded preceding and 1 preceding
                ) is null
                then 1
            when
                datediff(
                    'day',
                    max(event_end) over (
                        partition by patient_id, ingredient_a, ingredient_b, kind order by event_start, event_end
                        rows between unbounded preceding and 1 preceding
                    ),
                    event_start
                ) - 1 > $merge_gap_days
                then 1
            else 0
        end as starts_interaction
    from events
),

clustered as (
    select
        *,
        sum(starts_interaction) over (
            partition by patient_id, ingredient_a, ingredient_b, kind order by event_start, event_end
            rows unbounded preceding
        ) as interaction_no
    from breaks
),

side_a as (
    select
        clustered.patient_id, clustered.ingredient_a, clustered.ingredient_b, clustered.kind,
        clustered.interaction_no,
        sorted_distinct(list(episode_fills.claim_id)) as claim_ids,
        sorted_distinct(list(episode_fills.prescriber_id)) as prescriber_ids,
        sorted_distinct(list(episode_fills.pharmacy_id)) as pharmacy_ids
    from clustered
    inner join episode_fills
        on
            clustered.patient_id = episode_fills.patient_id
            and clustered.ingredient_a = episode_fills.ingredient
            and episode_fills.exposure_start <= clustered.window_a_end
            and episode_fills.owned_end + $extension_days >= clustered.window_a_start
    group by all
),

side_b as (
    select
        clustered.patient_id, clustered.ingredient_a, clustered.ingredient_b, clustered.kind,
        clustered.interaction_no,
        sorted_distinct(list(episode_fills.claim_id)) as claim_ids,
        sorted_distinct(list(episode_fills.prescriber_id)) as prescriber_ids,
        sorted_distinct(list(episode_fills.pharmacy_id)) as pharmacy_ids
    from clustered
    inner join episode_fills
        on
            clustered.patient_id = episode_fills.patient_id
            and clustered.ingredient_b = episode_fills.ingredient
            and episode_fills.exposure_start <= clustered.window_b_end
            and episode_fills.owned_end + $extension_days >= clustered.window_b_start
    group by all
),

interactions as (
    select
        patient_id,
        ingredient_a,
        ingredient_b,
        kind,
        interaction_no,
        -- ties broken as the rule is chosen per episode pair (most severe, then the lowest rule id), and
        -- the initiation order by the earliest event, then alphabetically (a washout each way on one day)
        arg_min(rule_id, (-severity_rank, rule_id)) as rule_id,
        arg_max(severity, severity_rank) as severity,
        max(severity_rank) as severity_rank,
        min(event_start) as first_overlap_date,
        max(event_end) as last_overlap_date,
        sum(overlap_days)::integer as overlap_days,
        max(overlap_days)::integer as longest_overlap_days,
        min(washout_gap_days)::integer as washout_gap_days,
        arg_min(initiation_order, (event_start, initiation_order)) as initiation_order
    from clustered
    group by patient_id, ingredient_a, ingredient_b, kind, interaction_no
),

-- A combination product never interacts with itself: an interaction whose fills on both sides are all
-- claims of products holding both ingredients (Auvelity alone: dextromethorphan + bupropion; Adderall
-- alone) is not one. A second, separate product on either side keeps it.
-- (Claims with several ingredients are found first and only theirs are listed: a list per claim for
-- every fill costs twice as much.)
combination_claims as (
    select fill_exposure.patient_id, fill_exposure.claim_id, list(fill_exposure.ingredient) as ingredients
    from fill_exposure
    semi join (
        select patient_id, claim_id
        from fill_exposure
        group by patient_id, claim_id
        having count(*) > 1
    ) as several
        on fill_exposure.patient_id = several.patient_id and fill_exposure.claim_id = several.claim_id
    group by fill_exposure.patient_id, fill_exposure.claim_id
),

combination_patients as (
    select distinct fill_exposure.patient_id
    from fill_exposure
    inner join combination_claims
        on fill_exposure.patient_id = combination_claims.patient_id and fill_exposure.claim_id = combination_claims.claim_id
),

side_claims as (
    select patient_id, ingredient_a, ingredient_b, kind, interaction_no, ingredient_b as other_ingredient,
        unnest(claim_ids) as claim_id
    from side_a
    where patient_id in (select combination_patients.patient_id from combination_patients)
    union all
    select patient_id, ingredient_a, ingredient_b, kind, interaction_no, ingredient_a as other_ingredient,
        unnest(claim_ids) as claim_id
    from side_b
    where patient_id in (select combination_patients.patient_id from combination_patients)
),

one_product as (
    select side_claims.patient_id, side_claims.ingredient_a, side_claims.ingredient_b, side_claims.kind,
        side_claims.interaction_no
    from side_claims
    left join combination_claims
        on side_claims.patient_id = combination_claims.patient_id and side_claims.claim_id = combination_claims.claim_id
    group by all
    having bool_and(coalesce(list_contains(combination_claims.ingredients, side_claims.other_ingredient), false))
),

serotonergic_prescribers as (
    select
        interactions.patient_id, interactions.ingredient_a, interactions.ingredient_b, interactions.kind,
        interactions.interaction_no,
        count(distinct episode_fills.prescriber_id)::integer as n_serotonergic_prescribers
    from interactions
    inner join episode_fills
        on
            interactions.patient_id = episode_fills.patient_id
            and episode_fills.exposure_start <= interactions.last_overlap_date
            and episode_fills.owned_end + $extension_days >= interactions.first_overlap_date
    group by all
)

select
    md5(
        interactions.patient_id || '|' || interactions.ingredient_a || '|' || interactions.ingredient_b || '|'
        || interactions.kind || '|' || interactions.first_overlap_date::varchar
    ) as interaction_id,
    interactions.patient_id,
    interactions.ingredient_a,
    interactions.ingredient_b,
    interactions.rule_id,
    interactions.severity,
    interactions.severity_rank,
    interactions.kind,
    interactions.first_overlap_date,
    interactions.last_overlap_date,
    interactions.overlap_days,
    interactions.longest_overlap_days,
    interactions.washout_gap_days,
    interactions.initiation_order,
    side_a.prescriber_ids as prescriber_ids_a,
    side_b.prescriber_ids as prescriber_ids_b,
    side_a.pharmacy_ids as pharmacy_ids_a,
    side_b.pharmacy_ids as pharmacy_ids_b,
    case
        when len(side_a.prescriber_ids) = 0 or len(side_b.prescriber_ids) = 0 then null
        else not list_has_any(side_a.prescriber_ids, side_b.prescriber_ids)
    end as cross_prescriber,
    case
        when len(side_a.pharmacy_ids) = 0 or len(side_b.pharmacy_ids) = 0 then null
        else not list_has_any(side_a.pharmacy_ids, side_b.pharmacy_ids)
    end as cross_pharmacy,
    side_a.claim_ids as claim_ids_a,
    side_b.claim_ids as claim_ids_b,
    coalesce(serotonergic_prescribers.n_serotonergic_prescribers, 0) as n_serotonergic_prescribers
from interactions
anti join one_product using (patient_id, ingredient_a, ingredient_b, kind, interaction_no)
left join side_a using (patient_id, ingredient_a, ingredient_b, kind, interaction_no)
left join side_b using (patient_id, ingredient_a, ingredient_b, kind, interaction_no)
left join serotonergic_prescribers using (patient_id, ingredient_a, ingredient_b, kind, interaction_no)
