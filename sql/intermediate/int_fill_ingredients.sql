-- Each claim (patient_id, claim_id: a claim id is unique per patient, not across patients) with the active
-- ingredients its drug maps to: the claim's (ndc, rxcui, drug_name) looked up in product_ingredients
-- (sql/intermediate/int_product_ingredients.sql, where the order NDC, RxNorm code, name is decided once per
-- product). Empty fields match empty fields. Inputs: claims, product_ingredients.
select
    claims.claim_id,
    product_ingredients.ingredient,
    product_ingredients.route,
    product_ingredients.mapped_by,
    claims.patient_id
from claims
inner join product_ingredients
    on
        claims.ndc is not distinct from product_ingredients.ndc
        and claims.rxcui is not distinct from product_ingredients.rxcui
        and claims.drug_name is not distinct from product_ingredients.drug_name
