-- The NDCs of an OMOP vocabulary that map to a drug holding rule ingredients (NDC concepts "Maps to" an
-- RxNorm drug), normalised to 11 digits, one row per NDC and ingredient (transforms/rxnorm_import.py).
-- Inputs: release_ndcs (ndc, rxcui), rxnorm_rows (rxcui, ingredient, route, tty, name).
-- Macro: normalise_ndc.
select distinct
    normalise_ndc(release_ndcs.ndc) as ndc,
    rxnorm_rows.ingredient,
    rxnorm_rows.route,
    rxnorm_rows.name as product_name
from release_ndcs
inner join rxnorm_rows on release_ndcs.rxcui = rxnorm_rows.rxcui
where normalise_ndc(release_ndcs.ndc) is not null
order by ndc, rxnorm_rows.ingredient
