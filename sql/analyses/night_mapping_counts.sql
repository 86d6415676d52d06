-- This night's claims by the fields that identify their drug, for the night's summary (attrition): how many
-- carry an NDC, an RxNorm code, a drug name, and how many each of them mapped to a rule ingredient (a claim
-- is mapped by the first field that maps: NDC, RxNorm code, name; by an approximate name when only that
-- maps); how many carry a 10-digit NDC and how many of those were ambiguous (several 11-digit NDCs known
-- for the ten digits: left to the name). Parameter: $run_id. Inputs: claims, fill_ingredients,
-- ten_digit_ndcs (int_ten_digit_ndcs.sql).
with tonight as (
    select claims.claim_id, claims.patient_id, claims.ndc, claims.rxcui, claims.drug_name
    from claims
    where claims.run_id = $run_id
),

sources as (
    -- one field per claim: a claim is mapped by one code, or by its name (exactly, else approximately)
    select
        fill_ingredients.claim_id,
        fill_ingredients.patient_id,
        case
            when bool_or(fill_ingredients.mapped_by = 'name') then 'name' else min(fill_ingredients.mapped_by)
        end as mapped_by
    from fill_ingredients
    group by fill_ingredients.patient_id, fill_ingredients.claim_id
)

select
    count(*) filter (where tonight.ndc is not null) as claims_with_ndc,
    count(*) filter (where sources.mapped_by = 'ndc') as claims_mapped_by_ndc,
    count(*) filter (where length(tonight.ndc) = 10) as claims_with_ten_digit_ndc,
    count(*) filter (where ten_digit_ndcs.ambiguous) as claims_with_ambiguous_ndc,
    count(*) filter (where tonight.rxcui is not null) as claims_with_rxcui,
    count(*) filter (where sources.mapped_by = 'rxcui') as claims_mapped_by_rxcui,
    count(*) filter (where tonight.drug_name is not null) as claims_with_name,
    count(*) filter (where sources.mapped_by = 'name') as claims_mapped_by_name,
    count(*) filter (where sources.mapped_by = 'name_approx') as claims_mapped_by_name_approx
from tonight
left join sources on tonight.claim_id = sources.claim_id and tonight.patient_id = sources.patient_id
left join ten_digit_ndcs on tonight.ndc = ten_digit_ndcs.ndc10
