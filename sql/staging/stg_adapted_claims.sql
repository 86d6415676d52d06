-- An input adapter's claims in the canonical contract (transforms/adapters): every canonical column as
-- text, the source's own lineage (source_file, source_row: its 1-based data row, raw: the row as JSON)
-- and pre-rejects (reject_code, reject_reason), in file order; transforms/ingest honours the lineage.
-- Parameter: $source_file (the source file's full path). Input: adapted_claims (one adapter's SELECT,
-- e.g. stg_omop_claims.sql: the 16 canonical columns, __row, raw, reject_code, reject_reason; `ongoing` is
-- 'true' where the source's order runs until stopped: no stop date is exposure to the night, capped).
select
    cast(claim_id as varchar) as claim_id,
    cast(patient_id as varchar) as patient_id,
    cast(fill_date as varchar) as fill_date,
    cast(days_supply as varchar) as days_supply,
    cast(end_date as varchar) as end_date,
    cast(ndc as varchar) as ndc,
    cast(rxcui as varchar) as rxcui,
    cast(drug_name as varchar) as drug_name,
    cast(quantity as varchar) as quantity,
    cast(prescriber_id as varchar) as prescriber_id,
    cast(pharmacy_id as varchar) as pharmacy_id,
    cast(claim_status as varchar) as claim_status,
    cast(fill_number as varchar) as fill_number,
    cast(rx_reference as varchar) as rx_reference,
    cast(original_claim_id as varchar) as original_claim_id,
    cast(ongoing as varchar) as ongoing,
    $source_file as source_file,
    __row::bigint as source_row,
    cast(raw as varchar) as raw,
    cast(reject_code as varchar) as reject_code,
    cast(reject_reason as varchar) as reject_reason
from adapted_claims
order by __row
