-- Before a rerun of a night deletes that night's earlier claims: their claim and patient ids, so the
-- incremental night remaps and recomputes them. Parameter: $as_of. Inputs: claims, runs.
select claim_id, patient_id
from claims
where run_id in (select runs.run_id from runs where runs.as_of = $as_of)
