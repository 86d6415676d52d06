-- How many of the distinct drug and drug source concepts the drug_exposure table uses (0, "No matching
-- concept", left out) a concept table names: used, named. To choose between concept tables and say in
-- the log how well the chosen one covers the exposures (transforms/adapters/omop.py).
-- Inputs: omop_drug_exposure, omop_concept (the adapter's views). Macro: source_id.
with used as (
    select source_id(drug_concept_id) as concept_id from omop_drug_exposure
    union
    select source_id(drug_source_concept_id) as concept_id from omop_drug_exposure
),

named as (
    select distinct source_id(concept_id) as concept_id from omop_concept
)

select count(*) as used, count(named.concept_id) as named
from used
left join named on used.concept_id = named.concept_id
where used.concept_id is not null and used.concept_id <> '0'
