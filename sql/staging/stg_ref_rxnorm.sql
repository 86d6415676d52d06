-- One import's rows of the RxNorm crosswalk `ref_rxnorm` (rows from other sources are kept): one row per
-- RxNorm code and rule-set ingredient it holds, with the route where it matters (transforms/rxnorm_import.py).
-- Parameter: $source (the source these rows replace). Input: rxnorm_rows (rxcui, ingredient, route, tty, name).
select rxnorm_rows.rxcui, rxnorm_rows.ingredient, rxnorm_rows.route, rxnorm_rows.tty, rxnorm_rows.name, $source as source
from rxnorm_rows
