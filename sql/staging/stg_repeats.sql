-- Claim ids given more than once for one patient in this batch, with where their first copy is (file,
-- then row). A claim id is unique per source and patient: the same id on two patients is two claims
-- (sources number claims per member), twice on one patient a duplicate.
-- Almost every id appears once: the pairs' hashes are counted first (one 64-bit number per row, not two
-- texts), and only the rows whose hash repeats are compared as text (a hash collision of two different
-- pairs sends both to that comparison, which tells them apart).
with ids as not materialized (
    select
        nullif(trim(claim_id), '') as claim_id,
        nullif(trim(patient_id), '') as patient_id,
        source_file,
        source_row
    from stg_raw
),

repeated_hashes as (
    select hash(claim_id, patient_id) as pair_hash
    from ids
    where claim_id is not null and patient_id is not null
    group by pair_hash
    having count(*) > 1
),

suspects as materialized (
    select claim_id, patient_id, source_file, source_row
    from ids
    where
        claim_id is not null and patient_id is not null
        and hash(claim_id, patient_id) in (select repeated_hashes.pair_hash from repeated_hashes)
)

select
    claim_id,
    patient_id,
    arg_min(source_file || ' row ' || source_row, struct_pack(f := source_file, r := source_row)) as first_copy
from suspects
group by claim_id, patient_id
having count(*) > 1
