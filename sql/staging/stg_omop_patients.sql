-- OMOP CDM person rows as canonical patients, for stg_adapted_patients.sql: birth year, sex (gender
-- concept 8507 male, 8532 female, else the first letter of gender_source_value) and coverage from
-- observation_period (the first start to the last end of the person's periods). Ids are read by
-- source_id, so an export that wrote them as floats ('12.0') joins its drug exposures.
-- Inputs: omop_person, omop_observation_period (the source tables as trimmed text; the second empty
-- when the folder has none: transforms/adapters/omop.py). Macro: source_id.
with coverage as (
    select
        source_id(person_id) as person_id,
        min(try_cast(observation_period_start_date as date)) as coverage_start,
        max(try_cast(observation_period_end_date as date)) as coverage_end
    from omop_observation_period
    group by source_id(person_id)
)

select
    source_id(p.person_id) as patient_id,
    source_id(p.year_of_birth) as birth_year,
    case source_id(p.gender_concept_id)
        when '8507' then 'M'
        when '8532' then 'F'
        else upper(left(p.gender_source_value, 1))
    end as sex,
    coverage.coverage_start,
    coverage.coverage_end
from omop_person as p
left join coverage on source_id(p.person_id) = coverage.person_id
