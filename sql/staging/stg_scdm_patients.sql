-- SCDM Demographic and Enrollment rows as canonical patients, for stg_adapted_patients.sql: birth year
-- and sex from Demographic; coverage from the Enrollment spans with drug coverage (DrugCov Y or empty),
-- the first start to the last end.
-- Inputs: scdm_demographic, scdm_enrollment (the tables as trimmed text; either empty when not given:
-- transforms/adapters/scdm.py). Macros: sas_date, source_id.
with parts as (
    select
        source_id(patid) as patient_id,
        year(try_cast(sas_date(birth_date) as date)) as birth_year,
        sex,
        null::date as coverage_start,
        null::date as coverage_end
    from scdm_demographic
    union all
    select
        source_id(patid) as patient_id,
        null::integer as birth_year,
        null as sex,
        try_cast(sas_date(enr_start) as date) as coverage_start,
        try_cast(sas_date(enr_end) as date) as coverage_end
    from scdm_enrollment
    where coalesce(upper(drugcov), 'Y') = 'Y'
)

select
    patient_id,
    max(birth_year) as birth_year,
    max(sex) as sex,
    min(coverage_start) as coverage_start,
    max(coverage_end) as coverage_end
from parts
group by patient_id
