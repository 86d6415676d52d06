-- Where each fill's supply is taken. 'none': from its fill date (an early refill's overlap with
-- the supply on hand is not carried forward). 'carryover': an early refill's supply starts when
-- the supply on hand runs out; the recursion end_i = max(fill_date_i - 1, end_(i-1)) + days_i has
-- the closed form end_i = S_i + max over j <= i of (fill_date_j - 1 - S_(j-1)), S = running supply.
-- (Capped carry-over is computed in transforms/stockpiling.py.) Parameter: $stockpiling. Input: fills.
with numbered as (
    select
        *,
        datediff('day', date '1970-01-01', fill_date) as fill_day,
        datediff('day', fill_date, exposure_end) + 1 as covered_days,
        sum(datediff('day', fill_date, exposure_end) + 1) over running as supply_so_far
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
    end as exposure_end
from carried
