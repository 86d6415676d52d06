-- Where each fill's supply is taken. 'none': from its fill date (an early refill's overlap with
-- the supply on hand is not carried forward). 'carryover': an early refill's supply starts when
-- the supply on hand runs out; the recursion end_i = max(fill_date_i - 1, end_(i-1)) + days_i has
-- the closed form end_i = S_i + max over j <= i of (fill_date_j - 1 - S_(j-1)), S = running supply.
-- (Capped carry-over is computed in transforms/stockpiling.py.) Whatever the mode, a fill's supply end is
-- the carried-over end: the day the patient runs out taking every dose dispensed so far, which is where
-- washouts are measured from (a truncated early refill must not shorten a washout). With 'none' (the
-- default) the fills are taken as they are and supply_end is left empty here: the episode step computes
-- that end in the passes it makes anyway (sql/intermediate/int_episode_fills.sql), in the same order,
-- saving two sorts.
-- In the OMOP end convention ($omop_end, which allows no stockpiling) a fill's end is the day after its
-- supply, so the days carried are one fewer and the carried end moves one day on, as its ends do.
-- A fill's prescriber and pharmacy (its claim's, when every claim is its own fill) are carried along.
-- Parameters: $stockpiling, $omop_end. Input: fills; macro supply_days (sql/macros/supply_days.sql).
with numbered as (
    select
        *,
        datediff('day', date '1970-01-01', fill_date) as fill_day,
        supply_days(fill_date, exposure_end, $omop_end) as covered_days,
        (sum(supply_days(fill_date, exposure_end, $omop_end)) over running)::bigint as supply_so_far
    from fills
    window running as (
        partition by patient_id, ingredient order by fill_date, exposure_end, fill_key rows unbounded preceding
    )
),

carried as (
    select
        *,
        supply_so_far + max(fill_day - 1 - (supply_so_far - covered_days)) over (
            partition by patient_id, ingredient order by fill_date, exposure_end, fill_key rows unbounded preceding
        ) as carried_end_day
    from numbered
)

select
    patient_id, ingredient, route, fill_key, fill_date, days_supply, fill_date as exposure_start, exposure_end,
    null::date as supply_end, prescriber_id, pharmacy_id
from fills
where $stockpiling = 'none'
union all
select
    patient_id,
    ingredient,
    route,
    fill_key,
    fill_date,
    days_supply,
    case
        when $stockpiling = 'carryover' then date '1970-01-01' + (carried_end_day - covered_days + 1)::integer
        else fill_date
    end as exposure_start,
    case
        when $stockpiling = 'carryover' then date '1970-01-01' + carried_end_day::integer
        else exposure_end
    end as exposure_end,
    date '1970-01-01' + (carried_end_day + (case when $omop_end then 1 else 0 end))::integer as supply_end,
    prescriber_id,
    pharmacy_id
from carried
where $stockpiling <> 'none'
