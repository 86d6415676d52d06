-- The claims a reversal or adjustment up to the run date cancels (patient_id, claim_id).
-- A reversal or adjustment cancels the claim it names in original_claim_id, or else (as NCPDP B2
-- does) one paid claim of a rule ingredient with the same patient, pharmacy, date of service, Rx
-- reference and fill number: the n-th reversal (or adjustment) of a key cancels its n-th paid claim by
-- claim id. A claim is (patient_id, claim_id): original_claim_id names a claim of the same patient only,
-- so a reversal never cancels another patient's claim that happens to carry the same id.
-- Reversals and adjustments are rare: they are read first, and only the paid claims that share a key's
-- non-null parts with one are numbered (whole key partitions are kept, so each claim's number is
-- unchanged); the claims themselves are not copied (sql/intermediate/int_claim_exposures.sql leaves the
-- cancelled ones out as it reads them). Only claims that could become exposure are listed (paid claims of
-- rule ingredients and adjustments, up to the run date): the night's attrition counts these rows.
-- Parameter: $as_of. Inputs: claims, fill_ingredients, rule_ingredients.
with cancellations as (
    select patient_id, claim_id, claim_status, pharmacy_id, fill_date, rx_reference, fill_number, original_claim_id
    from claims
    where fill_date <= $as_of and claim_status in ('reversed', 'adjusted')
),

named_originals as (
    select distinct patient_id, original_claim_id as claim_id
    from cancellations
    where original_claim_id is not null
),

keyed_cancellations as (
    select
        patient_id, pharmacy_id, fill_date, rx_reference, fill_number,
        row_number() over (
            partition by claim_status, patient_id, pharmacy_id, fill_date, rx_reference, fill_number
            order by claim_id
        ) as nth
    from cancellations
    where original_claim_id is null and rx_reference is not null
),

rule_claims as (
    select fill_ingredients.patient_id, fill_ingredients.claim_id
    from fill_ingredients
    where fill_ingredients.ingredient in (select rule_ingredients.ingredient from rule_ingredients)
),

paid_by_key as (
    select
        claims.claim_id, claims.patient_id, claims.pharmacy_id, claims.fill_date, claims.rx_reference,
        claims.fill_number,
        row_number() over (
            partition by claims.patient_id, claims.pharmacy_id, claims.fill_date, claims.rx_reference,
            claims.fill_number
            order by claims.claim_id
        ) as nth
    from claims
    semi join (select distinct patient_id, fill_date, rx_reference from keyed_cancellations) as keys
        on claims.patient_id = keys.patient_id and claims.fill_date = keys.fill_date
        and claims.rx_reference = keys.rx_reference
    semi join rule_claims on claims.patient_id = rule_claims.patient_id and claims.claim_id = rule_claims.claim_id
    anti join named_originals
        on claims.patient_id = named_originals.patient_id and claims.claim_id = named_originals.claim_id
    where claims.fill_date <= $as_of and claims.claim_status = 'paid'
),

-- the n-th reversal and the n-th adjustment of a key each cancel its n-th paid claim
cancelled as (
    select patient_id, claim_id from named_originals
    union
    select paid_by_key.patient_id, paid_by_key.claim_id
    from paid_by_key
    inner join keyed_cancellations
        on
            paid_by_key.patient_id = keyed_cancellations.patient_id
            and paid_by_key.pharmacy_id is not distinct from keyed_cancellations.pharmacy_id
            and paid_by_key.fill_date = keyed_cancellations.fill_date
            and paid_by_key.rx_reference = keyed_cancellations.rx_reference
            and paid_by_key.fill_number is not distinct from keyed_cancellations.fill_number
            and paid_by_key.nth = keyed_cancellations.nth
),

-- the cancelled claims that could become exposure: adjustments, and paid claims of rule ingredients
exposable as (
    select claims.patient_id, claims.claim_id, claims.claim_status
    from claims
    semi join cancelled on claims.patient_id = cancelled.patient_id and claims.claim_id = cancelled.claim_id
    where claims.fill_date <= $as_of and claims.claim_status in ('paid', 'adjusted')
)

select patient_id, claim_id from exposable where claim_status = 'adjusted'
union all
select exposable.patient_id, exposable.claim_id
from exposable
semi join rule_claims on exposable.patient_id = rule_claims.patient_id and exposable.claim_id = rule_claims.claim_id
where exposable.claim_status = 'paid'
