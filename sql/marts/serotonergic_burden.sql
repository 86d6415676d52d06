-- Serotonergic burden: periods in which a patient is exposed to three or more serotonergic
-- ingredients at once, with the ingredients and prescribers involved. A sweep over episode
-- starts (+1) and ends (-1, the day after the last covered day). Parameter: $min_concurrent.
-- Inputs: episodes, episode_fills, serotonergic_ingredients (ingredient).
with serotonergic_episodes as (
    select * from episodes
    where ingredient in (select serotonergic_ingredients.ingredient from serotonergic_ingredients)
),

changes as (
    select patient_id, episode_start as change_day, 1 as delta from serotonergic_episodes
    union all
    select patient_id, episode_end + 1 as change_day, -1 as delta from serotonergic_episodes
),

levels as (
    select
        patient_id,
        change_day,
        sum(sum(delta)) over (partition by patient_id order by change_day rows unbounded preceding) as concurrent,
        lead(change_day) over (partition by patient_id order by change_day) as next_change_day
    from changes
    group by patient_id, change_day
),

burden_days as (
    select patient_id, change_day as period_start, next_change_day - 1 as period_end, concurrent
    from levels
    where concurrent >= $min_concurrent and next_change_day is not null
),

periods as (
    select
        *,
        sum(case when lag_end is null or period_start > lag_end + 1 then 1 else 0 end) over (
            partition by patient_id order by period_start rows unbounded preceding
        ) as period_no
    from (
        select *, lag(period_end) over (partition by patient_id order by period_start) as lag_end
        from burden_days
    )
),

burden as (
    select
        patient_id,
        period_no,
        min(period_start) as burden_start,
        max(period_end) as burden_end,
        max(concurrent)::integer as max_concurrent
    from periods
    group by patient_id, period_no
)

select
    md5(burden.patient_id || '|' || burden.burden_start::varchar) as burden_id,
    burden.patient_id,
    burden.burden_start,
    burden.burden_end,
    datediff('day', burden.burden_start, burden.burden_end) + 1 as burden_days,
    burden.max_concurrent,
    list_sort(list_distinct(list(episode_fills.ingredient))) as ingredients,
    list_sort(list_distinct(list(episode_fills.prescriber_id))) as prescriber_ids,
    count(distinct episode_fills.prescriber_id)::integer as n_prescribers
from burden
inner join episode_fills
    on
        burden.patient_id = episode_fills.patient_id
        and episode_fills.exposure_start <= burden.burden_end
        and episode_fills.owned_end >= burden.burden_start
        and episode_fills.ingredient in (select serotonergic_ingredients.ingredient from serotonergic_ingredients)
group by burden.patient_id, burden.burden_start, burden.burden_end, burden.max_concurrent
