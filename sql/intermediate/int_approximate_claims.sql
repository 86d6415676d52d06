-- The claims mapped only by an approximately matched drug name (a misspelling): patient, claim and the name
-- as written, which the worklist and the period report show beside an alert. Read as an input (a common
-- table expression) by sql/marts/worklist.sql and sql/analyses/period_interactions.sql.
-- Inputs: fill_ingredients, claims.
select distinct claims.patient_id, claims.claim_id, claims.drug_name
from fill_ingredients
inner join claims
    on fill_ingredients.claim_id = claims.claim_id and fill_ingredients.patient_id = claims.patient_id
where fill_ingredients.mapped_by = 'name_approx'
