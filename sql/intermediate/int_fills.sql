-- One row per fill (fill_key): the claims of a fill combined. Same-day claims combined by 'sum'
-- cover the summed supply from the fill date; by 'max' the longest of them. Parameters: $same_day,
-- $omop_end. Input: fill_exposure; macro supply_end (sql/macros/supply_end.sql).
-- With $same_day = 'keep' (the default) every claim is its own fill (its fill_key is empty in
-- fill_exposure and its claim id here, and a claim has one row per ingredient and route): the rows are
-- taken as they are, without grouping, with the claim's prescriber and pharmacy (combined fills have
-- several: the episode step finds them in fill_exposure).
select
    patient_id,
    ingredient,
    route,
    claim_id as fill_key,
    exposure_start as fill_date,
    days_supply::integer as days_supply,
    exposure_end,
    prescriber_id,
    pharmacy_id
from fill_exposure
where $same_day = 'keep'
union all
select
    patient_id,
    ingredient,
    route,
    fill_key,
    min(exposure_start) as fill_date,
    case when $same_day = 'sum' then sum(days_supply) else max(days_supply) end::integer as days_supply,
    case
        when $same_day = 'sum' and count(*) > 1
            then supply_end(min(exposure_start), sum(days_supply)::integer, null, $omop_end)
        else max(exposure_end)
    end as exposure_end,
    null::varchar as prescriber_id,
    null::varchar as pharmacy_id
from fill_exposure
where $same_day <> 'keep'
group by patient_id, ingredient, route, fill_key
