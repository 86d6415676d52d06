-- OMOP CDM person rows as canonical patients, for stg_adapted_patients.sql: birth year, sex (gender
-- concept 8507 male, 8532 female, else the first letter of gender_source_value) and coverage from
-- observation_period (the first start to the last end of the person's periods).
-- Inputs: omop_person, omop_observation_period (the source tables as trimmed text; the second empty
-- when the folder has none: transforms/adapters/omop.py).
with coverage as (
    select
        person_id,
        min(try_cast(observation_period_start_date as date)) as coverage_start,
        max(try_cast(observation_period_end_date as date)) as coverage_end
    from omop_observation_period
    group by person_id
)

select
    p.person_id as patient_id,
    p.year_of_birth as birth_year,
    case p.gender_concept_id
        when '8507' then 'M'
        when '8532' then 'F'
        else upper(left(p.gender_source_value, 1))
    end as sex,
    coverage.coverage_start,
    coverage.coverage_end
from omop_person as p
left join coverage on p.person_id = coverage.person_id
