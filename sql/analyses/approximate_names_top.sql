-- The drug names run $run_id matched approximately to a rule drug (misspelt or foreign names): name,
-- likely match, ingredients taken, fills and patients; the $limit with the most fills. Input:
-- approximate_names.
select
    approximate_names.drug_name,
    approximate_names.likely_match,
    approximate_names.ingredients,
    approximate_names.fills,
    approximate_names.patients
from approximate_names
where approximate_names.run_id = $run_id
order by approximate_names.fills desc, approximate_names.drug_name
limit $limit
