-- The claims that can become exposure up to the run date: paid claims of rule ingredients, and every
-- reversal and adjustment whatever it maps to, so they can cancel the claims they reverse. A claim is
-- (patient_id, claim_id): the same claim id on two patients is two claims.
-- Parameter: $as_of. Inputs: claims, fill_ingredients, rule_ingredients.
select
    claim_id, patient_id, fill_date, days_supply, end_date, ndc, rxcui, drug_name, quantity, prescriber_id,
    pharmacy_id, claim_status, fill_number, rx_reference, original_claim_id, coalesce(ongoing, false) as ongoing
from claims
where
    fill_date <= $as_of
    and (
        claim_status <> 'paid'
        or exists (
            select 1
            from fill_ingredients
            where
                fill_ingredients.claim_id = claims.claim_id
                and fill_ingredients.patient_id = claims.patient_id
                and fill_ingredients.ingredient in (select rule_ingredients.ingredient from rule_ingredients)
        )
    )
