-- The drug names of this night's claims that map to no rule ingredient (the gate asks which of them
-- still name a real drug). Parameter: $run_id. Input: unmapped_drugs.
select distinct unmapped_drugs.drug_name
from unmapped_drugs
where unmapped_drugs.run_id = $run_id and unmapped_drugs.drug_name is not null
