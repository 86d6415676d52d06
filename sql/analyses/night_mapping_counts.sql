-- This night's claims by the fields that identify their drug, for the night's summary (attrition): how many
-- carry an NDC, an RxNorm code, a drug name, and how many each of them mapped to a rule ingredient (a claim
-- is mapped by the first field that maps: NDC, RxNorm code, name; by an approximate name when only that
-- maps); how many carry a 10-digit NDC and how many of those were ambiguous (several 11-digit NDCs known
-- for the ten digits: left to the name). Parameter: $run_id. Inputs: claims, product_ingredients,
-- ten_digit_ndcs (int_ten_digit_ndcs.sql).
with tonight as (
    select claims.ndc, claims.rxcui, claims.drug_name, count(*) as n
    from claims
    where claims.run_id = $run_id
    group by all
),

sources as (
    -- one field per drug: a drug is mapped by one code, or by its name (exactly, else approximately)
    select
        product_ingredients.ndc,
        product_ingredients.rxcui,
        product_ingredients.drug_name,
        case
            when bool_or(product_ingredients.mapped_by = 'name') then 'name' else min(product_ingredients.mapped_by)
        end as mapped_by
    from product_ingredients
    group by product_ingredients.ndc, product_ingredients.rxcui, product_ingredients.drug_name
)

select
    sum(tonight.n) filter (where tonight.ndc is not null) as claims_with_ndc,
    sum(tonight.n) filter (where sources.mapped_by = 'ndc') as claims_mapped_by_ndc,
    sum(tonight.n) filter (where length(tonight.ndc) = 10) as claims_with_ten_digit_ndc,
    sum(tonight.n) filter (where ten_digit_ndcs.ambiguous) as claims_with_ambiguous_ndc,
    sum(tonight.n) filter (where tonight.rxcui is not null) as claims_with_rxcui,
    sum(tonight.n) filter (where sources.mapped_by = 'rxcui') as claims_mapped_by_rxcui,
    sum(tonight.n) filter (where tonight.drug_name is not null) as claims_with_name,
    sum(tonight.n) filter (where sources.mapped_by = 'name') as claims_mapped_by_name,
    sum(tonight.n) filter (where sources.mapped_by = 'name_approx') as claims_mapped_by_name_approx
from tonight
left join sources
    on
        tonight.ndc is not distinct from sources.ndc
        and tonight.rxcui is not distinct from sources.rxcui
        and tonight.drug_name is not distinct from sources.drug_name
left join ten_digit_ndcs on tonight.ndc = ten_digit_ndcs.ndc10
