-- CMS Medicare Part D PDE rows as canonical claims (the mapping is in transforms/adapters/pde.py's
-- docstring), for stg_adapted_claims.sql. ADJSTMT_DLTN_CD: empty = paid, A = adjusted, D = reversed
-- (other codes pass through as text, quarantined as bad_claim_status). Without a PDE_ID column
-- ($has_pde_id false) the claim id is derived from the row. An adjustment or deletion names as its
-- original the PDE_ID of the previous version of the same event (patient, pharmacy, reference, date,
-- fill number; by PD_DT, then file order); with derived ids (themselves window results) it names none
-- and the engine matches the event on its key.
-- Parameter: $has_pde_id. Input: pde (the file as trimmed text, NULL for an absent column; __row, raw).
-- Macros: iso_date, derived_claim_id.
with events as (
    select
        *,
        iso_date(srvc_dt, ['%Y%m%d', '%d%b%Y', '%m/%d/%Y']) as service_date,
        upper(adjstmt_dltn_cd) as code,
        nullif(concat_ws(' ', gnn, bn), '') as drug_name
    from pde
),

identified as (
    select
        *,
        case
            when $has_pde_id then pde_id
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
    bene_id as patient_id,
    service_date as fill_date,
    days_suply_num as days_supply,
    null as end_date,
    prod_srvc_id as ndc,
    null as rxcui,
    drug_name,
    qty_dspnsd_num as quantity,
    prscrbr_id as prescriber_id,
    srvc_prvdr_id as pharmacy_id,
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
                partition by bene_id, srvc_prvdr_id, rx_srvc_rfrnc_num, service_date, fill_num
                order by try_cast(iso_date(pd_dt, ['%Y%m%d', '%d%b%Y', '%m/%d/%Y']) as date) nulls first, __row
            )
    end as original_claim_id,
    null as ongoing,  -- dispensings: a supply always
    __row,
    raw,
    null as reject_code,
    null as reject_reason
from identified
