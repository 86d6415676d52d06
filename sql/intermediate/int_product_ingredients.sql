-- Each distinct drug the claims give (ndc, rxcui, drug_name: a "product") mapped to its active
-- ingredients by the first of its fields that maps: the NDC (ndc_crosswalk: the user's imports, else the
-- crosswalk shipped in rules/rxnorm/; a 10-digit NDC as ten_digit_ndcs took it), then the RxNorm code
-- (rxcui_crosswalk: any RxNorm code, from ingredients to packs), then the drug name. A code that maps
-- nothing (a product no rule names, a retired or unknown code, an ambiguous 10-digit NDC) leaves the
-- product to the next field, so a claim whose name maps is never lost to its code; a code that maps is
-- never overridden by the name beside it. A fill whose route the source does not give takes the
-- ingredient's default route where the rules name one (methylene blue: iv, the route of the established
-- risk), so an unlabelled fill is never rated below that risk. A name matched only approximately (a
-- misspelling) keeps mapped_by = 'name_approx', so its alerts say so.
-- Mapping depends on these three fields only, so it is decided once per product (a few hundred to a few
-- thousand even at 100M claims) and claims are joined to the result (int_fill_ingredients.sql, the engine).
-- Inputs: claims, ndc_crosswalk, ten_digit_ndcs (ndc10, ndc, ambiguous), rxcui_crosswalk (rxcui, ingredient,
-- route), map_name (drug_name, ingredient, route, mapped_by), default_routes (ingredient, route).
with products as (
    select distinct claims.ndc, claims.rxcui, claims.drug_name
    from claims
),

by_ndc as (
    select products.ndc, products.rxcui, products.drug_name, ndc_crosswalk.ingredient, ndc_crosswalk.route, 'ndc' as mapped_by
    from products
    inner join ndc_crosswalk on products.ndc = ndc_crosswalk.ndc
    union
    select products.ndc, products.rxcui, products.drug_name, ndc_crosswalk.ingredient, ndc_crosswalk.route, 'ndc' as mapped_by
    from products
    inner join ten_digit_ndcs on products.ndc = ten_digit_ndcs.ndc10
    inner join ndc_crosswalk on ten_digit_ndcs.ndc = ndc_crosswalk.ndc
),

by_rxcui as (
    select distinct products.ndc, products.rxcui, products.drug_name, rxcui_crosswalk.ingredient, rxcui_crosswalk.route, 'rxcui' as mapped_by
    from products
    inner join rxcui_crosswalk on products.rxcui = rxcui_crosswalk.rxcui
    anti join by_ndc
        on
            products.ndc is not distinct from by_ndc.ndc
            and products.rxcui is not distinct from by_ndc.rxcui
            and products.drug_name is not distinct from by_ndc.drug_name
),

code_mapped as (
    select ndc, rxcui, drug_name from by_ndc
    union
    select ndc, rxcui, drug_name from by_rxcui
),

by_name as (
    select distinct products.ndc, products.rxcui, products.drug_name, map_name.ingredient, map_name.route, map_name.mapped_by
    from products
    inner join map_name on products.drug_name = map_name.drug_name
    anti join code_mapped
        on
            products.ndc is not distinct from code_mapped.ndc
            and products.rxcui is not distinct from code_mapped.rxcui
            and products.drug_name is not distinct from code_mapped.drug_name
),

mapped as (
    select ndc, rxcui, drug_name, ingredient, route, mapped_by from by_ndc
    union all
    select ndc, rxcui, drug_name, ingredient, route, mapped_by from by_rxcui
    union all
    select ndc, rxcui, drug_name, ingredient, route, mapped_by from by_name
)

select
    mapped.ndc,
    mapped.rxcui,
    mapped.drug_name,
    mapped.ingredient,
    coalesce(mapped.route, default_routes.route) as route,
    mapped.mapped_by
from mapped
left join default_routes on mapped.ingredient = default_routes.ingredient
