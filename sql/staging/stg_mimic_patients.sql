-- MIMIC-IV hosp/patients rows as canonical patients, for stg_adapted_patients.sql: anchor_year -
-- anchor_age is the (shifted) birth year; gender is the sex; MIMIC has no coverage periods.
-- Input: mimic_patients (the table as trimmed text, NULL for an absent column). Macro: source_id.
select
    source_id(subject_id) as patient_id,
    min(try_cast(anchor_year as integer) - try_cast(anchor_age as integer)) as birth_year,
    min(gender) as sex,
    null as coverage_start,
    null as coverage_end
from mimic_patients
group by source_id(subject_id)
