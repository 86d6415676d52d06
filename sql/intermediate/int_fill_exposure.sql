-- One row per active claim and rule ingredient (and route): the days it covers (claim_exposures,
-- sql/intermediate/int_claim_exposures.sql), without exact duplicates: a claim with the same patient,
-- ingredient, product, dates, prescriber and pharmacy as another under a lower claim id is dropped.
-- fill_key groups the claims that form one fill: with $same_day = 'sum' or 'max' every claim of the
-- ingredient dispensed on the same day (the lowest of their claim ids); with 'keep' (the default) each
-- claim is its own fill and fill_key is empty (the claim id is the fill's key: writing it twice cost a
-- fifth of this step).
-- Parameter: $same_day. Input: claim_exposures.
with distinct_claims as (
    select *
    from claim_exposures
    qualify row_number() over (
        partition by patient_id, ingredient, route, product, exposure_start, exposure_end, prescriber_id, pharmacy_id
        order by claim_id
    ) = 1
)

select
    patient_id,
    ingredient,
    route,
    claim_id,
    prescriber_id,
    pharmacy_id,
    exposure_start,
    exposure_end,
    days_supply,
    quantity,
    ongoing,
    case
        when $same_day = 'keep' then null
        else min(claim_id) over (partition by patient_id, ingredient, route, exposure_start)
    end as fill_key
from distinct_claims
