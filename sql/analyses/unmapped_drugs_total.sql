-- How many drugs run $run_id could not map, and their fills (one row: drugs, fills). Input: unmapped_drugs.
select count(*) as drugs, sum(unmapped_drugs.fills) as fills
from unmapped_drugs
where unmapped_drugs.run_id = $run_id
