-- Assign each fill to an exposure episode of its patient and ingredient. A fill starts a new
-- episode when the uncovered days since everything before it (extended by $extension_days, so
-- that extended episodes of one ingredient never overlap) exceed the grace: the larger of
-- $grace_days and $grace_percent % of the previous fill's supply. Each fill also gets the days it
-- "owns" (until the next fill of its episode starts), so that every episode day can be traced to
-- the claims, prescribers and pharmacies behind it. One row per claim, with its fill's carried-over
-- supply end (where washouts are measured from).
-- The fills are sorted twice (once per pass): the first gives each fill what came before it and the
-- next fill's start, which is enough to know whether the next fill starts an episode (its uncovered days
-- count from everything up to this one, its grace from this one's supply) and so the days this fill owns;
-- the second numbers the episodes. With $same_day = 'keep' a fill is one claim (fill_key is its id), whose
-- prescriber and pharmacy the fills carry; combined fills are joined back to their claims in fill_exposure.
-- A fill without a supply_end (stockpiling 'none', sql/intermediate/int_stockpiled_fills.sql) gets its
-- carried-over end here, from the same closed form in the same two passes: end_i = S_i + max over j <= i of
-- (start_j - 1 - S_(j-1)), S = running supply (the fills are in fill date order, as stockpiling orders
-- them; the OMOP end convention, $omop_end, carries one day further, as there).
-- Parameters: $grace_days, $grace_percent, $extension_days, $same_day, $omop_end.
-- Inputs: stockpiled_fills (one row per fill; stored, or streamed from its file with fills by
-- transforms/engine.py), fill_exposure (claims with their fill_key); macro supply_days.
with ordered as (
    select
        *,
        max(exposure_end) over (by_start rows between unbounded preceding and 1 preceding) as covered_until,
        max(exposure_end) over (by_start rows unbounded preceding) as covered_through,
        lag(days_supply) over by_start as previous_supply,
        lead(exposure_start) over by_start as next_start,
        supply_days(exposure_start, exposure_end, $omop_end) as covered_days,
        (sum(supply_days(exposure_start, exposure_end, $omop_end)) over (by_start rows unbounded preceding))::bigint
            as supply_so_far
    from stockpiled_fills
    window by_start as (partition by patient_id, ingredient order by exposure_start, exposure_end, fill_key)
),

flagged as (
    select
        *,
        case
            when covered_until is null then 1
            when datediff('day', covered_until + $extension_days, exposure_start) - 1
                > greatest($grace_days, floor(previous_supply * $grace_percent / 100.0)) then 1
            else 0
        end as starts_episode,
        case
            when next_start is null then exposure_end
            when datediff('day', covered_through + $extension_days, next_start) - 1
                > greatest($grace_days, floor(days_supply * $grace_percent / 100.0)) then exposure_end
            else greatest(exposure_end, next_start - 1)
        end as owned_end
    from ordered
),

numbered as (
    select
        *,
        sum(starts_episode) over running as episode_no,
        coalesce(
            supply_end,
            date '1970-01-01' + (
                supply_so_far
                + max(datediff('day', date '1970-01-01', exposure_start) - 1 - (supply_so_far - covered_days))
                    over running
                + (case when $omop_end then 1 else 0 end)
            )::integer
        ) as carried_supply_end
    from flagged
    window running as (
        partition by patient_id, ingredient order by exposure_start, exposure_end, fill_key rows unbounded preceding
    )
)

-- a kept fill is its claim (fill_key is the claim id); a combined fill's claims are in fill_exposure
select
    patient_id, ingredient, route, fill_key as claim_id, prescriber_id, pharmacy_id, fill_key, exposure_start, exposure_end,
    episode_no, carried_supply_end as supply_end,
    owned_end
from numbered
where $same_day = 'keep'
union all
select
    numbered.patient_id,
    numbered.ingredient,
    fill_exposure.route,
    fill_exposure.claim_id,
    fill_exposure.prescriber_id,
    fill_exposure.pharmacy_id,
    numbered.fill_key,
    numbered.exposure_start,
    numbered.exposure_end,
    numbered.episode_no,
    numbered.carried_supply_end as supply_end,
    numbered.owned_end
from numbered
inner join fill_exposure
    on
        numbered.fill_key = fill_exposure.fill_key and numbered.ingredient = fill_exposure.ingredient
        and numbered.patient_id = fill_exposure.patient_id
where $same_day <> 'keep'
