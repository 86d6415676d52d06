-- Drugs of this night's claims that no source could map, most frequent first: the first thing a
-- pharmacist fixes (a brand, salt or NDC missing from rules/ or the NDC crosswalk). Parameter: $run_id.
select
    $run_id as run_id,
    claims.drug_name,
    claims.ndc,
    count(*) as fills,
    count(distinct claims.patient_id) as patients
from claims
anti join product_ingredients
    on
        claims.ndc is not distinct from product_ingredients.ndc
        and claims.rxcui is not distinct from product_ingredients.rxcui
        and claims.drug_name is not distinct from product_ingredients.drug_name
where claims.run_id = $run_id
group by claims.drug_name, claims.ndc
order by fills desc, claims.drug_name, claims.ndc
