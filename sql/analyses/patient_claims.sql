-- Every claim of one patient the warehouse holds (accepted rows, any status, any date), with its lineage
-- (file, row, night), for `serosurv explain`. Parameter: $patient. Input: claims, runs.
select claims.*, runs.as_of as loaded_night
from claims
left join runs on claims.run_id = runs.run_id
where claims.patient_id = $patient
order by claims.fill_date, claims.claim_id
