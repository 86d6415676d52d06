-- Tonight's current interactions, the raw material of the alerts: every interaction whose last
-- co-exposure day is within $lookback_days of the run date (and that has begun by then), with the
-- newest fill on each side (date, quantity, days supply; on one day the highest claim id) among the
-- fills that cover it (one arg_max per side, not a window: 0.7-0.85 s against 0.9-1.2 s for 127,790
-- interactions), for the NCPDP-style "previous fill of the other drug" fields and the recency part of the priority.
-- The columns are exactly alert_history.snapshot's fields, in order. Parameters: $as_of, $lookback_days.
with current_interactions as (
    select *
    from interactions
    where last_overlap_date >= $as_of - $lookback_days::integer and first_overlap_date <= $as_of
),

side_claims as (
    select interaction_id, patient_id, 'a' as side, unnest(claim_ids_a) as claim_id from current_interactions
    union all
    select interaction_id, patient_id, 'b' as side, unnest(claim_ids_b) as claim_id from current_interactions
),

-- The claims behind interactions are in fill_exposure (fill date, supply, quantity as claimed), a
-- fraction of `claims` (1.5M of 10M rows at 10M claims).
last_fills as (
    select
        side_claims.interaction_id,
        side_claims.side,
        arg_max(
            struct_pack(
                fill_date := fill_exposure.exposure_start,
                quantity := fill_exposure.quantity,
                days_supply := fill_exposure.days_supply
            ),
            (fill_exposure.exposure_start, fill_exposure.claim_id)
        ) as fill
    from side_claims
    inner join fill_exposure
        on side_claims.patient_id = fill_exposure.patient_id and side_claims.claim_id = fill_exposure.claim_id
    where fill_exposure.exposure_start <= $as_of
    group by side_claims.interaction_id, side_claims.side
)

select
    i.patient_id,
    i.ingredient_a,
    i.ingredient_b,
    i.interaction_id,
    i.rule_id,
    i.severity,
    i.severity_rank::integer as severity_rank,
    i.kind,
    i.first_overlap_date,
    i.last_overlap_date,
    i.overlap_days::integer as overlap_days,
    i.longest_overlap_days::integer as longest_overlap_days,
    i.washout_gap_days::integer as washout_gap_days,
    i.initiation_order,
    coalesce(i.prescriber_ids_a, []::varchar[]) as prescriber_ids_a,
    coalesce(i.prescriber_ids_b, []::varchar[]) as prescriber_ids_b,
    coalesce(i.pharmacy_ids_a, []::varchar[]) as pharmacy_ids_a,
    coalesce(i.pharmacy_ids_b, []::varchar[]) as pharmacy_ids_b,
    coalesce(i.claim_ids_a, []::varchar[]) as claim_ids_a,
    coalesce(i.claim_ids_b, []::varchar[]) as claim_ids_b,
    coalesce(i.n_serotonergic_prescribers, 0)::integer as n_serotonergic_prescribers,
    fill_a.fill.fill_date as last_fill_date_a,
    fill_a.fill.quantity::double as last_fill_quantity_a,
    fill_a.fill.days_supply::integer as last_fill_days_supply_a,
    fill_b.fill.fill_date as last_fill_date_b,
    fill_b.fill.quantity::double as last_fill_quantity_b,
    fill_b.fill.days_supply::integer as last_fill_days_supply_b
from current_interactions as i
left join last_fills as fill_a on i.interaction_id = fill_a.interaction_id and fill_a.side = 'a'
left join last_fills as fill_b on i.interaction_id = fill_b.interaction_id and fill_b.side = 'b'
