-- The FDA NDC Directory's rows of the NDC crosswalk `ref_ndc` (rows from other sources are kept): one
-- row per package NDC and rule-set ingredient, mapped and deduplicated in Python (transforms/ndc_import.py).
-- Parameter: $source (the source these rows replace). Input: fda_ndc_rows (ndc, ingredient, route,
-- product_name).
select ndc, ingredient, route, product_name, $source as source
from fda_ndc_rows
