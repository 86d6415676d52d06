-- Assign each fill to an exposure episode of its patient and ingredient. A fill starts a new
-- episode when the uncovered days since everything before it (extended by $extension_days, so
-- that extended episodes of one ingredient never overlap) exceed the grace: the larger of
-- $grace_days and $grace_percent % of the previous fill's supply. Each fill also gets the days it
-- "owns" (until the next fill of its episode starts), so that every episode day can be traced to
-- the claims, prescribers and pharmacies behind it. One row per claim, with its fill's carried-over
-- supply end (where washouts are measured from).
-- Inputs: stockpiled_fills (one row per fill), fill_exposure (claims with their fill_key).
with ordered as (
    select
        *,
        max(exposure_end) over (
            partition by patient_id, ingredient order by exposure_start, exposure_end, fill_key
            rows between unbounded preceding and 1 preceding
        ) as covered_until,
        lag(days_supply) over (
            partition by patient_id, ingredient order by exposure_start, exposure_end, fill_key
        ) as previous_supply
    from stockpiled_fills
),

flagged as (
    select
        *,
        case
            when covered_until is null then 1
            when datediff('day', covered_until + $extension_days, exposure_start) - 1
                > greatest($grace_days, floor(previous_supply * $grace_percent / 100.0)) then 1
            else 0
        end as starts_episode
    from ordered
),

numbered as (
    select
        *,
        sum(starts_episode) over (
            partition by patient_id, ingredient order by exposure_start, exposure_end, fill_key
            rows unbounded preceding
        ) as episode_no
    from flagged
),

owned as (
    select
        *,
        greatest(
            exposure_end,
            coalesce(
                lead(exposure_start) over (
                    partition by patient_id, ingredient, episode_no order by exposure_start, exposure_end, fill_key
                ) - 1,
                exposure_end
            )
        ) as owned_end
    from numbered
)

select
    owned.patient_id,
    owned.ingredient,
    fill_exposure.route,
    fill_exposure.claim_id,
    fill_exposure.prescriber_id,
    fill_exposure.pharmacy_id,
    owned.fill_key,
    owned.exposure_start,
    owned.exposure_end,
    owned.episode_no,
    owned.supply_end,
    md5(owned.patient_id || '|' || owned.ingredient || '|' || owned.episode_no::varchar) as episode_id,
    owned.owned_end
from owned
inner join fill_exposure on owned.fill_key = fill_exposure.fill_key and owned.ingredient = fill_exposure.ingredient
    and owned.patient_id = fill_exposure.patient_id
