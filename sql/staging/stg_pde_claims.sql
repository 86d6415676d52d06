-- CMS Medicare Part D PDE rows as canonical claims (the mapping is in transforms/adapters/pde.py's
-- docstring), for stg_adapted_claims.sql. ADJSTMT_DLTN_CD: empty = paid, A = adjusted, D = reversed
-- (other codes pass through as text, quarantined as bad_claim_status). Without a PDE_ID column
-- ($has_pde_id false) the claim id is derived from the row. An adjustment or deletion names as its
-- original the PDE_ID of the previous version of the same event (patient, pharmacy, reference, date,
-- fill number; by PD_DT, then file order); with derived ids (themselves window results) it names none
-- and the engine matches the event on its key. Dates: YYYYMMDD (CCW, DE-SynPUF), DD-MMM-YYYY (RIF:
-- 01-Mar-2015), DDMMMYYYY (SAS), MM/DD/YYYY, YYYY-MM-DD. Prescriber and pharmacy ids keep the kind
-- their qualifier (PRSCRBR_ID_QLFYR_CD, SRVC_PRVDR_ID_QLFYR_CD; CMS codes 01 NPI, 06 UPIN, 07 NCPDP,
-- 08 state licence, 11 TIN, 12 DEA, 99 other) names: an NPI (01) or an id without a qualifier is the id,
-- any other kind is prefixed with it ('DEA:AB1234563'), so ids of two kinds never collide; an unknown id
-- (empty, zero or one of $unknown_ids) is NULL whatever its qualifier. A RIF row whose DML_IND is not
-- INSERT (UPDATE, DELETE: the RIF's instructions to change a record loaded earlier) is pre-rejected as
-- unsupported_dml: serosurv does not apply them. Ids are read by source_id; a derived claim id is
-- made from the values as written.
-- Parameters: $has_pde_id, $unknown_ids ([source] unknown_ids). Input: pde (the file as trimmed text,
-- NULL for an absent column; __row, raw). Macros: iso_date, derived_claim_id, source_id, known_id, qualified_id.
with events as (
    select
        *,
        source_id(bene_id) as patient,
        iso_date(srvc_dt, ['%Y%m%d', '%d-%b-%Y', '%d%b%Y', '%m/%d/%Y']) as service_date,
        upper(adjstmt_dltn_cd) as code,
        upper(dml_ind) as dml,
        nullif(concat_ws(' ', gnn, bn), '') as drug_name,
        known_id(source_id(prscrbr_id), $unknown_ids) as prescriber,
        known_id(source_id(srvc_prvdr_id), $unknown_ids) as pharmacy,
        lpad(source_id(prscrbr_id_qlfyr_cd), 2, '0') as prescriber_kind,
        lpad(source_id(srvc_prvdr_id_qlfyr_cd), 2, '0') as pharmacy_kind
    from pde
),

identified as (
    select
        *,
        case
            when $has_pde_id then source_id(pde_id)
            else derived_claim_id(
                'pde-',
                concat_ws(
                    '|', coalesce(bene_id, ''), coalesce(service_date, ''), coalesce(prod_srvc_id, ''),
                    coalesce(srvc_prvdr_id, ''), coalesce(rx_srvc_rfrnc_num, ''), coalesce(fill_num, ''),
                    coalesce(code, '')
                ),
                __row
            )
        end as claim_id
    from events
)

select
    claim_id,
    patient as patient_id,
    service_date as fill_date,
    days_suply_num as days_supply,
    null as end_date,
    prod_srvc_id as ndc,
    null as rxcui,
    drug_name,
    qty_dspnsd_num as quantity,
    qualified_id(prescriber, prescriber_kind) as prescriber_id,
    qualified_id(pharmacy, pharmacy_kind) as pharmacy_id,
    case
        when code is null then 'paid'
        when code = 'A' then 'adjusted'
        when code = 'D' then 'reversed'
        else 'adjstmt_dltn_cd ' || code
    end as claim_status,
    fill_num as fill_number,
    rx_srvc_rfrnc_num as rx_reference,
    case
        when code in ('A', 'D') and $has_pde_id and rx_srvc_rfrnc_num is not null
            then lag(claim_id) over (
                partition by patient, srvc_prvdr_id, rx_srvc_rfrnc_num, service_date, fill_num
                order by try_cast(iso_date(pd_dt, ['%Y%m%d', '%d-%b-%Y', '%d%b%Y', '%m/%d/%Y']) as date) nulls first,
                    __row
            )
    end as original_claim_id,
    null as ongoing,  -- dispensings: a supply always
    __row,
    raw,
    case when coalesce(dml, 'INSERT') <> 'INSERT' then 'unsupported_dml' end as reject_code,
    case
        when coalesce(dml, 'INSERT') <> 'INSERT'
            then 'DML_IND ' || dml || ' is an instruction to change a PDE loaded earlier, which serosurv does '
            || 'not apply; only INSERT rows are read'
    end as reject_reason
from identified
