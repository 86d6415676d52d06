-- Assign each fill to an exposure episode of its patient and ingredient. A fill starts a new
-- episode when the uncovered days since everything before it exceed the grace: the larger of
-- $grace_days and $grace_percent % of the previous fill's supply. Each fill also gets the days it
-- "owns" (until the next fill of its episode starts), so that every episode day can be traced to
-- the fill, prescriber and pharmacy behind it. Input: fill_exposure.
with ordered as (
    select
        *,
        max(exposure_end) over (
            partition by patient_id, ingredient order by exposure_start, exposure_end, claim_id
            rows between unbounded preceding and 1 preceding
        ) as covered_until,
        lag(days_supply) over (
            partition by patient_id, ingredient order by exposure_start, exposure_end, claim_id
        ) as previous_supply
    from fill_exposure
),

flagged as (
    select
        *,
        case
            when covered_until is null then 1
            when datediff('day', covered_until, exposure_start) - 1
                > greatest($grace_days, floor(previous_supply * $grace_percent / 100.0)) then 1
            else 0
        end as starts_episode
    from ordered
),

numbered as (
    select
        *,
        sum(starts_episode) over (
            partition by patient_id, ingredient order by exposure_start, exposure_end, claim_id
            rows unbounded preceding
        ) as episode_no
    from flagged
)

select
    patient_id,
    ingredient,
    route,
    claim_id,
    prescriber_id,
    pharmacy_id,
    exposure_start,
    exposure_end,
    episode_no,
    md5(patient_id || '|' || ingredient || '|' || episode_no::varchar) as episode_id,
    greatest(
        exposure_end,
        coalesce(
            lead(exposure_start) over (
                partition by patient_id, ingredient, episode_no order by exposure_start, exposure_end, claim_id
            ) - 1,
            exposure_end
        )
    ) as owned_end
from numbered
