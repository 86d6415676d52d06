-- The ingredients (and routes) the imported RxNorm crosswalk gives each of $rxcuis, for explaining rows the
-- night never mapped (quarantined ones); codes it does not hold map through the shipped crosswalk
-- (transforms/explain.py). Parameter: $rxcuis. Input: ref_rxnorm.
select rxcui, ingredient, route
from ref_rxnorm
where list_contains($rxcuis::varchar[], rxcui)
order by rxcui, ingredient
