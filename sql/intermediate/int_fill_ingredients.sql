-- Each claim (patient_id, claim_id: a claim id is unique per patient, not across patients) mapped to its
-- active ingredients, by the first source that knows it:
-- NDC crosswalk (ref_ndc), then ingredient-level RxNorm code, then drug name. A fill whose route the
-- source does not give takes the ingredient's default route where the rules name one (methylene blue:
-- iv, the route of the established risk), so an unlabelled fill is never rated below that risk.
-- A name matched only approximately (a misspelling) keeps mapped_by = 'name_approx', so its alerts say so.
-- Inputs: claims, ref_ndc, map_rxcui (rxcui, ingredient), map_name (drug_name, ingredient, route, mapped_by),
-- default_routes (ingredient, route).
with by_ndc as (
    select distinct claims.claim_id, claims.patient_id, ref_ndc.ingredient, ref_ndc.route, 'ndc' as mapped_by
    from claims
    inner join ref_ndc on claims.ndc = ref_ndc.ndc
),

by_rxcui as (
    select distinct claims.claim_id, claims.patient_id, map_rxcui.ingredient, null::varchar as route, 'rxcui' as mapped_by
    from claims
    inner join map_rxcui on claims.rxcui = map_rxcui.rxcui
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
