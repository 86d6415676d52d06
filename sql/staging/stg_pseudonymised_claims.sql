-- The night's staged claims with every id replaced by its keyed pseudonym (docs/privacy.md), written
-- once as Parquet that stg_raw is then pointed at (transforms/pseudonymise.py). The source's own row copy
-- (`raw`) is dropped: it can carry identifiers serosurv does not map. A prescriber or pharmacy id meaning
-- unknown stays empty (a pseudonym of '0' would look like a real prescriber to validation).
-- Parameter: $unknown_ids ([source] unknown_ids). Macro: known_id.
-- Input: stg_raw; the functions serosurv_pseudonym_<column>, registered (with the key) for the copy.
select * replace (
    serosurv_pseudonym_patient_id(patient_id) as patient_id,
    serosurv_pseudonym_prescriber_id(known_id(prescriber_id, $unknown_ids)) as prescriber_id,
    serosurv_pseudonym_pharmacy_id(known_id(pharmacy_id, $unknown_ids)) as pharmacy_id,
    null::varchar as raw
)
from stg_raw
