-- The claims that can become exposure up to the run date: paid claims of rule ingredients, and every
-- reversal and adjustment whatever it maps to, so they can cancel the claims they reverse.
-- Parameter: $as_of. Inputs: claims, fill_ingredients, rule_ingredients.
select
    claim_id, patient_id, fill_date, days_supply, end_date, ndc, rxcui, drug_name, quantity, prescriber_id,
    pharmacy_id, claim_status, fill_number, rx_reference, original_claim_id, coalesce(ongoing, false) as ongoing
from claims
where
    fill_date <= $as_of
    and (
        claim_status <> 'paid'
        or claim_id in (
            select fill_ingredients.claim_id
            from fill_ingredients
            where fill_ingredients.ingredient in (select rule_ingredients.ingredient from rule_ingredients)
        )
    )
