-- The claims that can become exposure up to the run date: paid claims of rule ingredients, and every
-- reversal and adjustment whatever it maps to, so they can cancel the claims they reverse. A claim is
-- (patient_id, claim_id): the same claim id on two patients is two claims. (Paid claims are found by a
-- semi join with their mapped claims, not a correlated test per claim: a third of the time at 10M claims.)
-- Parameter: $as_of. Inputs: claims, fill_ingredients, rule_ingredients.
with rule_claims as (
    select distinct fill_ingredients.patient_id, fill_ingredients.claim_id
    from fill_ingredients
    where fill_ingredients.ingredient in (select rule_ingredients.ingredient from rule_ingredients)
),

candidates as (
    select claims.*
    from claims
    semi join rule_claims on claims.patient_id = rule_claims.patient_id and claims.claim_id = rule_claims.claim_id
    where claims.fill_date <= $as_of and claims.claim_status = 'paid'
    union all
    select claims.*
    from claims
    where claims.fill_date <= $as_of and claims.claim_status <> 'paid'
)

select
    claim_id, patient_id, fill_date, days_supply, end_date, ndc, rxcui, drug_name, quantity, prescriber_id,
    pharmacy_id, claim_status, fill_number, rx_reference, original_claim_id, coalesce(ongoing, false) as ongoing
from candidates
