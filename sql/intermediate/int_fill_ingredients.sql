-- Each claim mapped to its active ingredients, by the first source that knows it:
-- NDC crosswalk (ref_ndc), then ingredient-level RxNorm code, then drug name. A fill whose route the
-- source does not give takes the ingredient's default route where the rules name one (methylene blue:
-- iv, the route of the established risk), so an unlabelled fill is never rated below that risk.
-- A name matched only approximately (a misspelling) keeps mapped_by = 'name_approx', so its alerts say so.
-- Inputs: claims, ref_ndc, map_rxcui (rxcui, ingredient), map_name (drug_name, ingredient, route, mapped_by),
-- default_routes (ingredient, route).
with by_ndc as (
    select distinct claims.claim_id, ref_ndc.ingredient, ref_ndc.route, 'ndc' as mapped_by
    from claims
    inner join ref_ndc on claims.ndc = ref_ndc.ndc
),

by_rxcui as (
    select distinct claims.claim_id, map_rxcui.ingredient, null::varchar as route, 'rxcui' as mapped_by
    from claims
    inner join map_rxcui on claims.rxcui = map_rxcui.rxcui
    where claims.claim_id not in (select by_ndc.claim_id from by_ndc)
),

by_name as (
    select distinct claims.claim_id, map_name.ingredient, map_name.route, map_name.mapped_by
    from claims
    inner join map_name on claims.drug_name = map_name.drug_name
    where
        claims.claim_id not in (select by_ndc.claim_id from by_ndc)
        and claims.claim_id not in (select by_rxcui.claim_id from by_rxcui)
),

mapped as (
    select claim_id, ingredient, route, mapped_by from by_ndc
    union all
    select claim_id, ingredient, route, mapped_by from by_rxcui
    union all
    select claim_id, ingredient, route, mapped_by from by_name
)

select mapped.claim_id, mapped.ingredient, coalesce(mapped.route, default_routes.route) as route, mapped.mapped_by
from mapped
left join default_routes on mapped.ingredient = default_routes.ingredient
