-- The optional patient table (`patients`: demographics and coverage), one row per row of the patient
-- file, its values cast to the contract (a value that does not cast is NULL); a column the file lacks is
-- NULL (the empty relation before `union all by name` supplies it). Parameter: $run_id.
-- Input: stg_patients_raw (the file as given, column names in any case; transforms/ingest.stage_patients).
with given as (
    from (
        select null as patient_id, null as birth_year, null as sex, null as coverage_start, null as coverage_end
        where false
    )
    union all by name
    from stg_patients_raw
)

select
    cast(patient_id as varchar) as patient_id,
    try_cast(birth_year as integer) as birth_year,
    try_cast(sex as varchar) as sex,
    try_cast(coverage_start as date) as coverage_start,
    try_cast(coverage_end as date) as coverage_end,
    $run_id as run_id
from given
