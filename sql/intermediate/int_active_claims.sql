-- Paid and adjusted claims of rule ingredients up to the run date that no reversal or adjustment
-- cancelled.
-- A reversal or adjustment cancels the claim it names in original_claim_id, or else (as NCPDP B2
-- does) one paid claim with the same patient, pharmacy, date of service, Rx reference and fill
-- number: the n-th reversal (or adjustment) of a key cancels its n-th paid claim by claim id. A claim
-- is (patient_id, claim_id): original_claim_id names a claim of the same patient only, so a reversal
-- never cancels another patient's claim that happens to carry the same id.
-- Input: candidate_claims (sql/intermediate/int_candidate_claims.sql).
with dated as (
    select * from candidate_claims
),

named_originals as (
    select distinct patient_id, original_claim_id as claim_id
    from dated
    where claim_status in ('reversed', 'adjusted') and original_claim_id is not null
),

-- Reversals and adjustments are rare: only paid claims that share a key's non-null parts with one
-- are numbered (whole key partitions are kept, so each claim's number is unchanged).
keyed_cancellations as (
    select distinct patient_id, fill_date, rx_reference
    from dated
    where claim_status in ('reversed', 'adjusted') and original_claim_id is null and rx_reference is not null
),

paid_by_key as (
    select
        claim_id, patient_id, pharmacy_id, fill_date, rx_reference, fill_number,
        row_number() over (
            partition by patient_id, pharmacy_id, fill_date, rx_reference, fill_number order by claim_id
        ) as nth
    from dated
    semi join keyed_cancellations using (patient_id, fill_date, rx_reference)
    where
        claim_status = 'paid'
        and not exists (
            select 1
            from named_originals
            where named_originals.patient_id = dated.patient_id and named_originals.claim_id = dated.claim_id
        )
),

reversals_by_key as (
    select
        patient_id, pharmacy_id, fill_date, rx_reference, fill_number,
        row_number() over (
            partition by patient_id, pharmacy_id, fill_date, rx_reference, fill_number order by claim_id
        ) as nth
    from dated
    where claim_status = 'reversed' and original_claim_id is null and rx_reference is not null
),

adjustments_by_key as (
    select
        patient_id, pharmacy_id, fill_date, rx_reference, fill_number,
        row_number() over (
            partition by patient_id, pharmacy_id, fill_date, rx_reference, fill_number order by claim_id
        ) as nth
    from dated
    where claim_status = 'adjusted' and original_claim_id is null and rx_reference is not null
),

cancelled as (
    select patient_id, claim_id from named_originals
    union
    select paid_by_key.patient_id, paid_by_key.claim_id
    from paid_by_key
    inner join reversals_by_key
        on
            paid_by_key.patient_id = reversals_by_key.patient_id
            and paid_by_key.pharmacy_id is not distinct from reversals_by_key.pharmacy_id
            and paid_by_key.fill_date = reversals_by_key.fill_date
            and paid_by_key.rx_reference = reversals_by_key.rx_reference
            and paid_by_key.fill_number is not distinct from reversals_by_key.fill_number
            and paid_by_key.nth = reversals_by_key.nth
    union
    select paid_by_key.patient_id, paid_by_key.claim_id
    from paid_by_key
    inner join adjustments_by_key
        on
            paid_by_key.patient_id = adjustments_by_key.patient_id
            and paid_by_key.pharmacy_id is not distinct from adjustments_by_key.pharmacy_id
            and paid_by_key.fill_date = adjustments_by_key.fill_date
            and paid_by_key.rx_reference = adjustments_by_key.rx_reference
            and paid_by_key.fill_number is not distinct from adjustments_by_key.fill_number
            and paid_by_key.nth = adjustments_by_key.nth
)

select dated.*
from dated
anti join cancelled on dated.patient_id = cancelled.patient_id and dated.claim_id = cancelled.claim_id
where dated.claim_status in ('paid', 'adjusted')
