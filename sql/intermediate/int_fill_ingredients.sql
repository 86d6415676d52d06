-- Each claim (patient_id, claim_id: a claim id is unique per patient, not across patients) mapped to its
-- active ingredients by the first of its fields that maps: the NDC (ndc_crosswalk:
-- the user's imports, else the crosswalk shipped in rules/rxnorm/; a 10-digit NDC as ten_digit_ndcs took
-- it), then the RxNorm code (rxcui_crosswalk: any RxNorm code, from ingredients to packs), then the drug
-- name. A code that maps nothing (a product no rule names, a retired or unknown code, an ambiguous 10-digit
-- NDC) leaves the claim to the next field, so a claim whose name maps is never lost to its code; a code
-- that maps is never overridden by the name beside it. A fill whose route the source does not give takes the
-- ingredient's default route where the rules name one (methylene blue: iv, the route of the established
-- risk), so an unlabelled fill is never rated below that risk. A name matched only approximately (a
-- misspelling) keeps mapped_by = 'name_approx', so its alerts say so.
-- Inputs: claims, ndc_crosswalk, ten_digit_ndcs (ndc10, ndc, ambiguous), rxcui_crosswalk (rxcui, ingredient,
-- route), map_name (drug_name, ingredient, route, mapped_by), default_routes (ingredient, route).
with by_ndc as (
    select distinct claims.claim_id, claims.patient_id, ndc_crosswalk.ingredient, ndc_crosswalk.route, 'ndc' as mapped_by
    from claims
    inner join ndc_crosswalk on claims.ndc = ndc_crosswalk.ndc
    union
    select distinct claims.claim_id, claims.patient_id, ndc_crosswalk.ingredient, ndc_crosswalk.route, 'ndc' as mapped_by
    from claims
    inner join ten_digit_ndcs on claims.ndc = ten_digit_ndcs.ndc10
    inner join ndc_crosswalk on ten_digit_ndcs.ndc = ndc_crosswalk.ndc
),

by_rxcui as (
    select distinct claims.claim_id, claims.patient_id, rxcui_crosswalk.ingredient, rxcui_crosswalk.route, 'rxcui' as mapped_by
    from claims
    inner join rxcui_crosswalk on claims.rxcui = rxcui_crosswalk.rxcui
    anti join by_ndc on claims.claim_id = by_ndc.claim_id and claims.patient_id = by_ndc.patient_id
),

by_name as (
    select distinct claims.claim_id, claims.patient_id, map_name.ingredient, map_name.route, map_name.mapped_by
    from claims
    inner join map_name on claims.drug_name = map_name.drug_name
    anti join by_ndc on claims.claim_id = by_ndc.claim_id and claims.patient_id = by_ndc.patient_id
    anti join by_rxcui on claims.claim_id = by_rxcui.claim_id and claims.patient_id = by_rxcui.patient_id
),

mapped as (
    select claim_id, patient_id, ingredient, route, mapped_by from by_ndc
    union all
    select claim_id, patient_id, ingredient, route, mapped_by from by_rxcui
    union all
    select claim_id, patient_id, ingredient, route, mapped_by from by_name
)

select
    mapped.claim_id,
    mapped.ingredient,
    coalesce(mapped.route, default_routes.route) as route,
    mapped.mapped_by,
    mapped.patient_id
from mapped
left join default_routes on mapped.ingredient = default_routes.ingredient
