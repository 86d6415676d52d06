-- The ingredients (and routes) the NDC crosswalk gives each of $ndcs (11-digit NDCs), for explaining rows
-- the night never mapped (quarantined ones). Parameter: $ndcs. Input: ref_ndc.
select ndc, ingredient, route
from ref_ndc
where list_contains($ndcs::varchar[], ndc)
order by ndc, ingredient
