-- Sentinel Common Data Model (SCDM v8) Dispensing rows as canonical claims (the mapping is in
-- transforms/adapters/scdm.py's docstring), for stg_adapted_claims.sql. Rx is an NDC or an RxNorm code as
-- Rx_CodeType says (ND, RN; without that column, as in SCDM before v8 with its NDC column, an NDC:
-- $has_code_type false); rows of another code type are pre-rejected as unsupported_code_type. There is
-- no claim id (derived from the row as written) and no pharmacy; ProviderID `.U`, `U` (SAS's special
-- missing value), or empty, zero or one of $unknown_ids is unknown. Ids are read by source_id.
-- Parameters: $has_code_type, $unknown_ids ([source] unknown_ids). Input: scdm_dispensing (the table as
-- trimmed text, NULL for an absent column; rx is Rx or else NDC; __row, raw). Macros: sas_date,
-- derived_claim_id, source_id, known_id.
with coded as (
    select
        *,
        case when $has_code_type then upper(rx_codetype) else 'ND' end as code_type
    from scdm_dispensing
),

checked as (
    select
        *,
        coalesce(code_type in ('ND', 'RN'), false) as supported
    from coded
)

select
    derived_claim_id(
        'scdm-',
        concat_ws(
            '|', coalesce(patid, ''), coalesce(rxdate, ''), coalesce(rx, ''), coalesce(providerid, ''),
            coalesce(rxsup, '')
        ),
        __row
    ) as claim_id,
    source_id(patid) as patient_id,
    sas_date(rxdate) as fill_date,
    rxsup as days_supply,
    null as end_date,
    case when code_type = 'ND' then rx end as ndc,
    case when code_type = 'RN' then rx end as rxcui,
    null as drug_name,
    rxamt as quantity,
    case when upper(providerid) in ('.U', 'U') then null else known_id(source_id(providerid), $unknown_ids) end
        as prescriber_id,
    null as pharmacy_id,
    null as claim_status,
    null as fill_number,
    null as rx_reference,
    null as original_claim_id,
    null as ongoing,  -- dispensings: a supply always
    __row,
    raw,
    case when not supported then 'unsupported_code_type' end as reject_code,
    case
        when not supported
            then 'Rx_CodeType ''' || coalesce(code_type, '') || ''' is not supported (ND = NDC or RN = RxNorm)'
    end as reject_reason
from checked
