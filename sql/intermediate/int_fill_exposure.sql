-- One row per active fill and rule ingredient: the days it covers (inclusive end: fill_date +
-- days_supply - 1, or the order's own end date). Only ingredients that appear in a rule need
-- exposure. Exact duplicate claims (same patient, ingredient, product, dates, prescriber and
-- pharmacy under another claim id) are dropped, keeping the lowest claim id.
-- Inputs: active_claims, fill_ingredients, rule_ingredients (ingredient).
with exposures as (
    select
        active_claims.patient_id,
        fill_ingredients.ingredient,
        fill_ingredients.route,
        active_claims.claim_id,
        active_claims.prescriber_id,
        active_claims.pharmacy_id,
        active_claims.fill_date as exposure_start,
        coalesce(active_claims.end_date, active_claims.fill_date + active_claims.days_supply - 1) as exposure_end,
        coalesce(active_claims.days_supply, datediff('day', active_claims.fill_date, active_claims.end_date) + 1)
            as days_supply,
        coalesce(active_claims.ndc, active_claims.drug_name, active_claims.rxcui) as product
    from active_claims
    inner join fill_ingredients on active_claims.claim_id = fill_ingredients.claim_id
    where fill_ingredients.ingredient in (select rule_ingredients.ingredient from rule_ingredients)
)

select
    patient_id, ingredient, route, claim_id, prescriber_id, pharmacy_id, exposure_start, exposure_end, days_supply
from exposures
qualify row_number() over (
    partition by patient_id, ingredient, route, product, exposure_start, exposure_end, prescriber_id, pharmacy_id
    order by claim_id
) = 1
