-- The rows of one patient that successful nights up to $night quarantined, with their reason: rows whose
-- patient_id is the patient's (rows quarantined since the column exists), else, for older rows, rows whose
-- raw text (the row as read, JSON: the canonical fields, or an adapter's source row) carries the patient
-- id, trimmed, in a field named for a patient (patient_id, subject_id, person_id, PatID, BENE_ID,
-- DESYNPUF_ID, member...). Rows without a patient id, or without their raw text, cannot be tied to one.
-- Parameters: $patient, $night. Inputs: quarantine, runs.
select
    quarantine.source_file,
    quarantine.source_row,
    quarantine.reason_code,
    quarantine.reason,
    quarantine.raw,
    quarantine.run_id,
    runs.as_of as loaded_night
from quarantine
inner join runs on quarantine.run_id = runs.run_id
where
    runs.status = 'success'
    and runs.as_of <= $night
    and (
        quarantine.patient_id = $patient
        or (
            quarantine.patient_id is null
            and contains(quarantine.raw, $patient)
            and json_valid(quarantine.raw)
            and len(list_filter(
                map_entries(json_transform(quarantine.raw, '"MAP(VARCHAR, VARCHAR)"')),
                lambda field: regexp_matches(lower(field.key), '(patient|^pat|person|subject|bene|member|desynpuf)')
                and trim(field.value) = $patient
            )) > 0
        )
    )
order by runs.as_of, quarantine.source_file, quarantine.source_row
