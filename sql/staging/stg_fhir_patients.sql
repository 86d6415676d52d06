-- The Patient resources of a --format fhir input (given with --claims or --patients) as canonical
-- patients, for stg_adapted_patients.sql: patient_id as the claims name the patient (fhir_patient_id of
-- its key: 'Patient/123' -> '123'), birth year from birthDate (YYYY, YYYY-MM or a date), sex from
-- gender (male M, female F, other O; unknown or absent empty). No coverage periods: the adapter reads no
-- Coverage resources. A patient in several files is one row.
-- Input: stg_fhir_resources (stg_fhir_resources.sql). Macro: fhir_patient_id.
select
    fhir_patient_id(key) as patient_id,
    min(try_cast(left(json_extract_string(text, '$.birthDate'), 4) as integer)) as birth_year,
    min(
        case lower(json_extract_string(text, '$.gender'))
            when 'male' then 'M'
            when 'female' then 'F'
            when 'other' then 'O'
        end
    ) as sex,
    null as coverage_start,
    null as coverage_end
from stg_fhir_resources
where valid and resource_type = 'Patient' and key is not null
group by all
