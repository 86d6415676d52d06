-- An input adapter's patients in the canonical layout (transforms/adapters): one row per patient,
-- values cast (a value that does not cast is NULL), ordered by patient id.
-- Input: adapted_patients (one adapter's SELECT, e.g. stg_omop_patients.sql: patient_id, birth_year,
-- sex, coverage_start, coverage_end).
select
    cast(patient_id as varchar) as patient_id,
    try_cast(birth_year as integer) as birth_year,
    cast(sex as varchar) as sex,
    try_cast(coverage_start as date) as coverage_start,
    try_cast(coverage_end as date) as coverage_end
from adapted_patients
where patient_id is not null
order by patient_id
