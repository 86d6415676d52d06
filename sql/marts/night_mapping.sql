-- night_mapping: how the night's fills (paid claims) mapped, one row per source file and drug field (ndc,
-- rxcui, drug_name): how many fills carry the field (fills); how many the field alone maps to a rule
-- ingredient (field_maps: a code through the crosswalks, a 10-digit NDC through its one known reading, a
-- name through the name mapper); how many the field mapped (mapped_by_field: a fill is mapped by the first of
-- its fields that maps, NDC, then RxNorm code, then name, so a name counts only the fills whose codes map
-- nothing); and, for the two code fields, among the fills carrying the code and a drug name that map to a rule
-- drug (beside_name), how many the code alone maps (beside_name_by_code). A code column the crosswalks do not
-- read shows as beside_name_by_code far below beside_name (the gate's code_vs_name_share).
-- Parameter: $run_id. Inputs: claims, product_ingredients, ndc_crosswalk, ten_digit_ndcs, rxcui_crosswalk
-- (transforms/normalise.create_code_crosswalks), map_name (drug_name).
-- Claims are counted per drug (ndc, rxcui, drug_name) and file first: mapping is decided per drug.
with tonight as (
    select
        coalesce(claims.source_file, '') as source_file,
        claims.ndc,
        claims.rxcui,
        claims.drug_name,
        count(*) as n
    from claims
    where claims.run_id = $run_id and claims.claim_status = 'paid'
    group by all
),

mapped as (
    select
        product_ingredients.ndc,
        product_ingredients.rxcui,
        product_ingredients.drug_name,
        bool_or(product_ingredients.mapped_by = 'ndc') as by_ndc,
        bool_or(product_ingredients.mapped_by = 'rxcui') as by_rxcui,
        bool_or(product_ingredients.mapped_by in ('name', 'name_approx')) as by_name
    from product_ingredients
    group by product_ingredients.ndc, product_ingredients.rxcui, product_ingredients.drug_name
),

mapping_ndcs as (
    select ndc_crosswalk.ndc
    from ndc_crosswalk
    union
    select ten_digit_ndcs.ndc10 as ndc
    from ten_digit_ndcs
    where ten_digit_ndcs.ndc in (select ndc_crosswalk.ndc from ndc_crosswalk)
),

fills as (
    select
        tonight.source_file,
        tonight.n,
        tonight.ndc,
        tonight.rxcui,
        nullif(trim(tonight.drug_name), '') as drug_name,
        mapped.by_ndc is not null as rule_drug,
        tonight.ndc in (select mapping_ndcs.ndc from mapping_ndcs) as ndc_maps,
        tonight.rxcui in (select rxcui_crosswalk.rxcui from rxcui_crosswalk) as rxcui_maps,
        nullif(trim(tonight.drug_name), '') in (select map_name.drug_name from map_name) as name_maps,
        coalesce(mapped.by_ndc, false) as by_ndc,
        coalesce(mapped.by_rxcui, false) as by_rxcui,
        coalesce(mapped.by_name, false) as by_name
    from tonight
    left join mapped
        on
            tonight.ndc is not distinct from mapped.ndc
            and tonight.rxcui is not distinct from mapped.rxcui
            and tonight.drug_name is not distinct from mapped.drug_name
),

fields as (
    select
        fills.source_file,
        fills.n,
        'ndc' as field,
        fills.ndc_maps as field_maps,
        fills.by_ndc as by_field,
        fills.drug_name is not null and fills.rule_drug as beside_name
    from fills
    where fills.ndc is not null
    union all
    select
        fills.source_file,
        fills.n,
        'rxcui' as field,
        fills.rxcui_maps as field_maps,
        fills.by_rxcui as by_field,
        fills.drug_name is not null and fills.rule_drug as beside_name
    from fills
    where fills.rxcui is not null
    union all
    select
        fills.source_file,
        fills.n,
        'drug_name' as field,
        fills.name_maps as field_maps,
        fills.by_name as by_field,
        false as beside_name
    from fills
    where fills.drug_name is not null
)

select
    $run_id as run_id,
    fields.source_file,
    fields.field,
    sum(fields.n)::bigint as fills,
    coalesce(sum(fields.n) filter (where fields.field_maps), 0)::bigint as field_maps,
    coalesce(sum(fields.n) filter (where fields.by_field), 0)::bigint as mapped_by_field,
    coalesce(sum(fields.n) filter (where fields.beside_name), 0)::bigint as beside_name,
    coalesce(sum(fields.n) filter (where fields.beside_name and fields.field_maps), 0)::bigint as beside_name_by_code
from fields
group by fields.source_file, fields.field
order by fields.source_file, fields.field
