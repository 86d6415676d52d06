-- The night's staged claims with every id replaced by its keyed pseudonym (docs/privacy.md), written
-- once as Parquet that stg_raw is then pointed at (transforms/pseudonymise.py). The source's own row copy
-- (`raw`) is dropped: it can carry identifiers serosurv does not map.
-- Input: stg_raw; the functions serosurv_pseudonym_<column>, registered (with the key) for the copy.
select * replace (
    serosurv_pseudonym_patient_id(patient_id) as patient_id,
    serosurv_pseudonym_prescriber_id(prescriber_id) as prescriber_id,
    serosurv_pseudonym_pharmacy_id(pharmacy_id) as pharmacy_id,
    null::varchar as raw
)
from stg_raw
