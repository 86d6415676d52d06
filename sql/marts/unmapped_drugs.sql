-- Drugs of this night's claims that no source could map, most frequent first: the first thing a
-- pharmacist fixes (a brand, salt or NDC missing from rules/ or the NDC crosswalk). Parameter: $run_id.
select
    $run_id as run_id,
    claims.drug_name,
    claims.ndc,
    count(*) as fills,
    count(distinct claims.patient_id) as patients
from claims
anti join fill_ingredients
    on claims.claim_id = fill_ingredients.claim_id and claims.patient_id = fill_ingredients.patient_id
where claims.run_id = $run_id
group by claims.drug_name, claims.ndc
order by fills desc, claims.drug_name, claims.ndc
