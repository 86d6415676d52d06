-- The fills of each patient and ingredient in date order, with their fill date and the days they cover
-- as day numbers: the input of capped carry-over, which is computed in Python (transforms/stockpiling.py;
-- its cap has no closed form in SQL). Capped carry-over takes the inclusive end convention (the OMOP one
-- allows no stockpiling). Input: fills; macro supply_days (sql/macros/supply_days.sql).
select
    patient_id,
    ingredient,
    route,
    fill_key,
    fill_date,
    days_supply,
    exposure_end,
    datediff('day', date '1970-01-01', fill_date) as start_day,
    supply_days(fill_date, exposure_end, false) as covered_days,
    prescriber_id,
    pharmacy_id
from fills
order by patient_id, ingredient, fill_date, exposure_end, fill_key
