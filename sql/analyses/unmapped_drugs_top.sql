-- The drugs run $run_id could not map to an ingredient: name, NDC, fills and patients; the $limit with the
-- most fills. Input: unmapped_drugs.
select unmapped_drugs.drug_name, unmapped_drugs.ndc, unmapped_drugs.fills, unmapped_drugs.patients
from unmapped_drugs
where unmapped_drugs.run_id = $run_id
order by unmapped_drugs.fills desc, unmapped_drugs.drug_name
limit $limit
