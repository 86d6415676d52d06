-- Claims mapped to an ingredient per source that mapped them (ndc, rxcui, name, name_approx), for the
-- night's summary (claims_mapped_by_<source>). Input: fill_ingredients.
select mapped_by, count(distinct (patient_id, claim_id)) as claims
from fill_ingredients
group by mapped_by
