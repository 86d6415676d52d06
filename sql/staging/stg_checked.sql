-- stg_checked: the raw text rows cast to the canonical contract, every row that breaks it with one
-- reason (the first that applies); accepted rows go to `claims` (stg_claims.sql), the others to
-- `quarantine` (stg_quarantine.sql). Materialised as the temp table stg_checked, one slice of the batch's
-- rows at a time (all of them when they fit in half the memory limit: transforms/validate.py).
-- Parameters: $first_row, $last_row (the slice of each file's rows checked: source_row, 1-based),
-- $as_of (run date), $earliest (earliest plausible fill date), $max_field_length
-- ([source] max_field_length: what a quarantined row's `raw` keeps of each field), $unknown_ids
-- (prescriber and pharmacy ids meaning unknown: [source] unknown_ids; with empty and zero they become NULL).
-- Reads the staging view `stg_raw` row by row; what needs the whole batch (repeated claim ids, ids an
-- earlier night loaded) comes from the small tables `stg_repeats` and `stg_loaded`, computed first. The
-- checks made as a file is read (too_many_fields, undecodable_text, field_too_long: transforms/ingest.py
-- and transforms/field_text.py) arrive as `reject_code`, with an adapter's own, and come first.
-- `ongoing` (optional, "true"/"yes"/"1" or "false"/"no"/"0", empty = false) marks an order that runs
-- until stopped: such a row without end_date and days_supply is accepted as an open-ended order (exposure to
-- the night, capped: sql/macros/ongoing_end.sql) instead of quarantined as missing_supply; its `ongoing` in
-- `claims` is true only then (a given end or supply wins).
-- Macros: normalise_ndc (sql/macros/normalise_ndc.sql), bounded_text (sql/macros/bounded_text.sql),
-- known_id (sql/macros/known_id.sql), trimmed_text (sql/macros/trimmed_text.sql).
with trimmed as (
    select
        source_file,
        source_row,
        raw,
        reject_code,
        reject_reason,
        trimmed_text(claim_id) as claim_id,
        trimmed_text(patient_id) as patient_id,
        trimmed_text(fill_date) as fill_date_text,
        trimmed_text(days_supply) as days_supply_text,
        trimmed_text(end_date) as end_date_text,
        nullif(regexp_replace(trim(ndc), '^0+$', ''), '') as ndc_text,
        trimmed_text(rxcui) as rxcui,
        trimmed_text(drug_name) as drug_name,
        trimmed_text(quantity) as quantity_text,
        trimmed_text(prescriber_id) as prescriber_id,
        trimmed_text(pharmacy_id) as pharmacy_id,
        lower(coalesce(trimmed_text(claim_status), 'paid')) as claim_status,
        trimmed_text(fill_number) as fill_number_text,
        trimmed_text(rx_reference) as rx_reference,
        trimmed_text(original_claim_id) as original_claim_id,
        nullif(lower(trim(ongoing)), '') as ongoing_text
    from stg_raw
    where source_row between $first_row and $last_row  -- the slice being checked (transforms/validate.py)
),

typed as (
    select
        trimmed.*,
        coalesce(
            try_cast(fill_date_text as date),
            try_strptime(fill_date_text, '%m/%d/%Y')::date,
            try_strptime(fill_date_text, '%Y%m%d')::date
        ) as fill_date,
        coalesce(
            try_cast(end_date_text as date),
            try_strptime(end_date_text, '%m/%d/%Y')::date,
            try_strptime(end_date_text, '%Y%m%d')::date
        ) as end_date,
        -- Whole numbers as written ('30', '30.0'): a cast alone would round '30.5' and read '0x1E' or '3_0'.
        case when regexp_full_match(days_supply_text, '[+-]?[0-9]+(\.0*)?')
            then try_cast(days_supply_text as integer) end as days_supply,
        -- A quantity is a finite number ('NaN' and 'inf' cast to doubles that compare above 0); 0, as empty,
        -- means unknown (OMOP and many extracts write 0 when no quantity was recorded).
        case when isfinite(try_cast(quantity_text as double)) then try_cast(quantity_text as double) end
            as quantity_number,
        case
            when ongoing_text is null or ongoing_text in ('false', 'f', 'no', 'n', '0') then false
            when ongoing_text in ('true', 't', 'yes', 'y', '1') then true
        end as ongoing_flag,
        case when regexp_full_match(fill_number_text, '[+-]?[0-9]+(\.0*)?')
            then try_cast(fill_number_text as integer) end as fill_number,
        normalise_ndc(ndc_text) as ndc,
        -- A plain 10-digit NDC cannot be padded without knowing its segment layout: kept as unmapped text.
        ndc_text is not null and regexp_full_match(ndc_text, '[0-9]{10}') as ndc_ambiguous,
        repeats.first_copy,
        loaded.claim_id is not null as already_loaded
    from trimmed
    left join stg_repeats as repeats
        on trimmed.claim_id = repeats.claim_id and trimmed.patient_id = repeats.patient_id
    left join stg_loaded as loaded on trimmed.claim_id = loaded.claim_id and trimmed.patient_id = loaded.patient_id
),

checked as (
    select
        *,
        case
            when reject_code is not null then reject_code
            when claim_id is null then 'missing_claim_id'
            when patient_id is null then 'missing_patient_id'
            when fill_date_text is null then 'missing_fill_date'
            when fill_date is null then 'bad_fill_date'
            when fill_date > $as_of then 'future_fill_date'
            when fill_date < $earliest then 'implausible_fill_date'
            when days_supply_text is not null and days_supply is null then 'bad_days_supply'
            when days_supply is not null and (days_supply < 1 or days_supply > 365) then 'implausible_days_supply'
            when end_date_text is not null and end_date is null then 'bad_end_date'
            when end_date is not null and end_date < fill_date then 'end_before_fill'
            when ongoing_flag is null then 'bad_ongoing'
            when days_supply is null and end_date is null and not ongoing_flag then 'missing_supply'
            when ndc_text is null and rxcui is null and drug_name is null then 'missing_drug'
            when ndc_text is not null and ndc is null and not ndc_ambiguous then 'bad_ndc'
            when quantity_text is not null and (quantity_number is null or quantity_number < 0) then 'bad_quantity'
            when claim_status not in ('paid', 'reversed', 'adjusted') then 'bad_claim_status'
            when fill_number_text is not null and (fill_number is null or fill_number < 0 or fill_number > 99)
                then 'bad_fill_number'
            when first_copy is not null and (source_file || ' row ' || source_row) <> first_copy
                then 'duplicate_claim_id'
            when already_loaded then 'already_loaded'
        end as reason_code
    from typed
)

select
    source_file,
    source_row,
    case
        -- An adapter's source row (JSON) longer than 16 fields' worth is kept as the start of its text.
        when reason_code is not null and length(raw) > 16 * $max_field_length then to_json(struct_pack(
            cut := left(raw, 16 * $max_field_length), characters := length(raw)
        ))::varchar
        when reason_code is not null then coalesce(
            raw,
            to_json(struct_pack(
                claim_id := bounded_text(claim_id, $max_field_length),
                patient_id := bounded_text(patient_id, $max_field_length),
                fill_date := bounded_text(fill_date_text, $max_field_length),
                days_supply := bounded_text(days_supply_text, $max_field_length),
                end_date := bounded_text(end_date_text, $max_field_length),
                ndc := bounded_text(ndc_text, $max_field_length),
                rxcui := bounded_text(rxcui, $max_field_length),
                drug_name := bounded_text(drug_name, $max_field_length),
                quantity := bounded_text(quantity_text, $max_field_length),
                prescriber_id := bounded_text(prescriber_id, $max_field_length),
                pharmacy_id := bounded_text(pharmacy_id, $max_field_length),
                claim_status := bounded_text(claim_status, $max_field_length),
                fill_number := bounded_text(fill_number_text, $max_field_length),
                rx_reference := bounded_text(rx_reference, $max_field_length),
                original_claim_id := bounded_text(original_claim_id, $max_field_length),
                ongoing := bounded_text(ongoing_text, $max_field_length)
            ))::varchar
        )
    end as raw,
    claim_id,
    patient_id,
    fill_date,
    days_supply,
    end_date,
    coalesce(ndc, case when ndc_ambiguous then ndc_text end) as ndc,
    rxcui,
    drug_name,
    nullif(quantity_number, 0) as quantity,
    known_id(prescriber_id, $unknown_ids) as prescriber_id,
    known_id(pharmacy_id, $unknown_ids) as pharmacy_id,
    claim_status,
    fill_number,
    rx_reference,
    original_claim_id,
    ongoing_flag and days_supply is null and end_date is null as ongoing,
    reason_code,
    case when reject_code is not null then reject_reason else case reason_code
        when 'missing_claim_id' then 'claim_id is empty'
        when 'missing_patient_id' then 'patient_id is empty'
        when 'missing_fill_date' then 'fill_date is empty'
        when 'bad_fill_date' then 'fill_date ''' || fill_date_text || ''' is not a date (use YYYY-MM-DD)'
        when 'future_fill_date' then 'fill_date ' || fill_date_text || ' is after the run date ' || $as_of
        when 'implausible_fill_date' then 'fill_date ' || fill_date_text || ' is before ' || $earliest
        when 'bad_days_supply' then 'days_supply ''' || days_supply_text || ''' is not a whole number'
        when 'implausible_days_supply' then 'days_supply ' || days_supply_text || ' is outside 1-365'
        when 'bad_end_date' then 'end_date ''' || end_date_text || ''' is not a date (use YYYY-MM-DD)'
        when 'end_before_fill' then 'end_date ' || end_date_text || ' is before fill_date ' || fill_date_text
        when 'missing_supply' then 'neither days_supply nor end_date is given (nor ongoing = true, for an order without a stop date)'
        when 'bad_ongoing' then 'ongoing ''' || ongoing_text || ''' is not true or false (true, yes, 1 / false, no, 0)'
        when 'missing_drug' then 'none of ndc, rxcui, drug_name is given'
        when 'bad_ndc' then 'ndc ''' || ndc_text || ''' is not an NDC (11 digits, or 4-4-2, 5-3-2, 5-4-1 with hyphens)'
        when 'bad_quantity' then 'quantity ''' || quantity_text || ''' is not a number above 0 (0 or empty: unknown)'
        when 'bad_claim_status' then 'claim_status ''' || claim_status || ''' is not paid, reversed or adjusted'
        when 'bad_fill_number' then 'fill_number ''' || fill_number_text || ''' is not a whole number 0-99'
        when 'duplicate_claim_id' then 'claim_id repeats the claim of the same patient at ' || first_copy
        when 'already_loaded' then 'claim_id was loaded for the same patient by an earlier night'
    end end as reason
from checked
