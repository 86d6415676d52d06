-- One row per active claim and rule ingredient: the days it covers. Only ingredients that appear
-- in a rule need exposure. Its end is the supply_end macro (sql/macros/supply_end.sql): inclusive
-- (default) fill_date + days_supply - 1; OMOP drug_era mode ($omop_end): fill_date + days_supply, as
-- the OHDSI era script does; an order's own end date is used as given. An ongoing order (a start
-- without stop date or days supply) ends on the night $as_of, at most $ongoing_max_days from its start
-- (macro ongoing_end), as if that were its end date: a later night extends it, a stop (an adjustment
-- with an end date) replaces it. Exact duplicate claims (same
-- patient, ingredient, product, dates, prescriber and pharmacy under another claim id) are dropped,
-- keeping the lowest claim id. fill_key groups the claims that form one fill: each claim alone, or
-- with $same_day = 'sum' or 'max' every claim of the ingredient dispensed on the same day.
-- Parameters: $omop_end, $same_day, $as_of, $ongoing_max_days. Inputs: active_claims, fill_ingredients,
-- rule_ingredients (ingredient); macros supply_end, ongoing_end.
with ended as (
    select
        *,
        case
            when ongoing then ongoing_end(fill_date, $as_of, $ongoing_max_days) else end_date
        end as given_end
    from active_claims
),

exposures as (
    select
        active_claims.patient_id,
        fill_ingredients.ingredient,
        fill_ingredients.route,
        active_claims.claim_id,
        active_claims.prescriber_id,
        active_claims.pharmacy_id,
        active_claims.fill_date as exposure_start,
        supply_end(active_claims.fill_date, active_claims.days_supply, active_claims.given_end, $omop_end)
            as exposure_end,
        coalesce(active_claims.days_supply, datediff('day', active_claims.fill_date, active_claims.given_end) + 1)
            as days_supply,
        coalesce(active_claims.ndc, active_claims.drug_name, active_claims.rxcui) as product,
        active_claims.quantity,
        active_claims.ongoing
    from ended as active_claims
    inner join fill_ingredients
        on active_claims.claim_id = fill_ingredients.claim_id and active_claims.patient_id = fill_ingredients.patient_id
    where fill_ingredients.ingredient in (select rule_ingredients.ingredient from rule_ingredients)
),

distinct_claims as (
    select *
    from exposures
    qualify row_number() over (
        partition by patient_id, ingredient, route, product, exposure_start, exposure_end, prescriber_id, pharmacy_id
        order by claim_id
    ) = 1
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
    days_supply,
    quantity,
    ongoing,
    case
        when $same_day = 'keep' then claim_id
        else min(claim_id) over (partition by patient_id, ingredient, route, exposure_start)
    end as fill_key
from distinct_claims
