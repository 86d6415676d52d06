-- Claim ids given more than once for one patient in this batch, with where their first copy is (file,
-- then row). A claim id is unique per source and patient: the same id on two patients is two claims
-- (sources number claims per member), twice on one patient a duplicate.
-- Pairs are counted first and only repeated ones are located: almost every id appears once.
with ids as not materialized (
    select
        trimmed_text(claim_id) as claim_id,
        trimmed_text(patient_id) as patient_id,
        source_file,
        source_row
    from stg_raw
),

repeated as (
    select claim_id, patient_id
    from ids
    where claim_id is not null and patient_id is not null
    group by claim_id, patient_id
    having count(*) > 1
)

select
    claim_id,
    patient_id,
    arg_min(source_file || ' row ' || source_row, struct_pack(f := source_file, r := source_row)) as first_copy
from ids
semi join repeated using (claim_id, patient_id)
group by claim_id, patient_id
