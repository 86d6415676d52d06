-- How each claim of one patient was mapped (fill_ingredients: ingredient, route, mapped_by ndc, rxcui,
-- name or name_approx) and, for a name matched approximately, the rule name it was taken for
-- (approximate_names.likely_match). Parameter: $patient. Inputs: claims, fill_ingredients,
-- approximate_names.
select
    fill_ingredients.claim_id,
    fill_ingredients.patient_id,
    fill_ingredients.ingredient,
    fill_ingredients.route,
    fill_ingredients.mapped_by,
    likely.likely_match
from fill_ingredients
inner join claims
    on fill_ingredients.claim_id = claims.claim_id and fill_ingredients.patient_id = claims.patient_id
left join (
    select drug_name, any_value(likely_match) as likely_match from approximate_names group by drug_name
) as likely
    on fill_ingredients.mapped_by = 'name_approx' and claims.drug_name = likely.drug_name
where claims.patient_id = $patient
order by fill_ingredients.claim_id, fill_ingredients.ingredient
