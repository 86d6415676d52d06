-- The fills behind one alert (`serosurv alerts show`): every fill of the patient of either ingredient
-- up to the alert's night whose supply reaches $since or later, with its episode, how its drug was
-- mapped (mapped_by 'name_approx': an approximate name match), and whether the alert names it.
-- Parameters: $patient, $a, $b (the ingredients), $night, $since, $claims_a, $claims_b, $omop_end (the
-- night's [episodes] end_convention is "omop"), $ongoing_max_days (its [episodes] ongoing_max_days: an
-- ongoing order, without stop date or days supply, covers its start to the night, at most that many days).
-- Macros: supply_end, ongoing_end.
with claims as (
    select
        *,
        coalesce(ongoing, false) as open_ended,
        case when ongoing then ongoing_end(fill_date, $night, $ongoing_max_days) else end_date end as given_end
    from claims
)

select
    claims.fill_date,
    fill_ingredients.ingredient,
    fill_ingredients.mapped_by,
    supply_end(claims.fill_date, claims.days_supply, claims.given_end, $omop_end) as supply_end,
    claims.open_ended as ongoing,
    claims.days_supply,
    claims.quantity,
    claims.prescriber_id,
    claims.pharmacy_id,
    claims.claim_status,
    claims.claim_id,
    coalesce(claims.drug_name, claims.ndc, claims.rxcui) as product,
    list_contains(list_concat($claims_a, $claims_b), claims.claim_id) as in_alert,
    episodes.episode_start,
    episodes.episode_end
from claims
inner join fill_ingredients
    on claims.claim_id = fill_ingredients.claim_id and claims.patient_id = fill_ingredients.patient_id
left join episodes
    on
        claims.patient_id = episodes.patient_id
        and fill_ingredients.ingredient = episodes.ingredient
        and list_contains(episodes.claim_ids, claims.claim_id)
where
    claims.patient_id = $patient
    and fill_ingredients.ingredient in ($a, $b)
    and claims.fill_date <= $night
    and supply_end(claims.fill_date, claims.days_supply, claims.given_end, $omop_end) >= $since
order by claims.fill_date, fill_ingredients.ingredient, claims.claim_id
