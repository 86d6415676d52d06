-- The patients an incremental night recomputes: those with claims loaded tonight or removed by a rerun
-- of this night. Parameter: $run_id. Inputs: claims, forgotten_claims.
select distinct patient_id from claims where run_id = $run_id
union
select patient_id from forgotten_claims
