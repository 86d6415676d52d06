-- Each NDC as an import wrote it (the FDA NDC Directory's NDCPACKAGECODE, hyphenated; a CSV's ndc column)
-- with its 11-digit NDC, NULL when it is not an NDC (transforms/ndc_import.py). Parameter: $codes (the
-- distinct codes). Macro: normalise_ndc (sql/macros/normalise_ndc.sql).
select code, normalise_ndc(code) as ndc
from unnest($codes::varchar[]) as package_codes (code)
