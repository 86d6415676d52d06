-- ndc_crosswalk: every NDC (11 digits) that maps to rule ingredients, with the route where it matters and
-- where the row comes from. The warehouse's `ref_ndc` (a user's imports: the FDA NDC Directory, a CSV)
-- decides the NDCs it holds; the crosswalk shipped in rules/rxnorm/ (`shipped_ndc`) maps the others, so NDCs
-- map with no import. Inputs: ref_ndc, shipped_ndc (ndc, ingredient, route, rxcui).
select ref_ndc.ndc, ref_ndc.ingredient, ref_ndc.route, ref_ndc.source
from ref_ndc
union all
select shipped_ndc.ndc, shipped_ndc.ingredient, shipped_ndc.route, 'rules/rxnorm' as source
from shipped_ndc
where shipped_ndc.ndc not in (select ref_ndc.ndc from ref_ndc)
