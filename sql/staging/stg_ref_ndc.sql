-- One import's rows of the NDC crosswalk `ref_ndc` (rows from other sources are kept): one row per NDC
-- (11 digits) and rule-set ingredient, mapped and deduplicated by the importer (transforms/ndc_import.py:
-- the FDA NDC Directory, a CSV; transforms/rxnorm_import.py: an OMOP vocabulary's NDCs).
-- Parameter: $source (the source these rows replace). Input: ndc_rows (ndc, ingredient, route, product_name).
select ndc_rows.ndc, ndc_rows.ingredient, ndc_rows.route, ndc_rows.product_name, $source as source
from ndc_rows
