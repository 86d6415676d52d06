-- night_mapping: how the night's fills (paid claims) mapped, one row per source file and drug field (ndc,
-- rxcui, drug_name): how many fills carry the field (fills); how many the field alone maps to a rule
-- ingredient (field_maps: a code through the crosswalks, a 10-digit NDC through its one known reading, a
-- name through the name mapper); how many the field mapped (mapped_by_field: a fill is mapped by the first of
-- its fields that maps, NDC, then RxNorm code, then name, so a name counts only the fills whose codes map
-- nothing); and, for the two code fields, among the fills carrying the code and a drug name that map to a rule
-- drug (beside_name), how many the code alone maps (beside_name_by_code). A code column the crosswalks do not
-- read shows as beside_name_by_code far below beside_name (the gate's code_vs_name_share).
-- Parameter: $run_id. Inputs: claims, fill_ingredients, ndc_crosswalk, ten_digit_ndcs, rxcui_crosswalk
-- (transforms/normalise.create_code_crosswalks), map_name (drug_name).
with tonight as (
    select
        claims.claim_id,
        claims.patient_id,
        coalesce(claims.source_file, '') as source_file,
        claims.ndc,
        claims.rxcui,
        nullif(trim(claims.drug_name), '') as drug_name
    from claims
    where claims.run_id = $run_id and claims.claim_status = 'paid'
),

mapped as (
    select
        fill_ingredients.claim_id,
        fill_ingredients.patient_id,
        bool_or(fill_ingredients.mapped_by = 'ndc') as by_ndc,
        bool_or(fill_ingredients.mapped_by = 'rxcui') as by_rxcui,
        bool_or(fill_ingredients.mapped_by in ('name', 'name_approx')) as by_name
    from fill_ingredients
    group by fill_ingredients.patient_id, fill_ingredients.claim_id
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
        tonight.ndc,
        tonight.rxcui,
        tonight.drug_name,
        mapped.claim_id is not null as rule_drug,
        tonight.ndc in (select mapping_ndcs.ndc from mapping_ndcs) as ndc_maps,
        tonight.rxcui in (select rxcui_crosswalk.rxcui from rxcui_crosswalk) as rxcui_maps,
        tonight.drug_name in (select map_name.drug_name from map_name) as name_maps,
        coalesce(mapped.by_ndc, false) as by_ndc,
        coalesce(mapped.by_rxcui, false) as by_rxcui,
        coalesce(mapped.by_name, false) as by_name
    from tonight
    left join mapped on tonight.claim_id = mapped.claim_id and tonight.patient_id = mapped.patient_id
),

fields as (
    select
        fills.source_file,
        'ndc' as field,
        fills.ndc_maps as field_maps,
        fills.by_ndc as by_field,
        fills.drug_name is not null and fills.rule_drug as beside_name
    from fills
    where fills.ndc is not null
    union all
    select
        fills.source_file,
        'rxcui' as field,
        fills.rxcui_maps as field_maps,
        fills.by_rxcui as by_field,
        fills.drug_name is not null and fills.rule_drug as beside_name
    from fills
    where fills.rxcui is not null
    union all
    select
        fills.source_file,
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
    count(*) as fills,
    count(*) filter (where fields.field_maps) as field_maps,
    count(*) filter (where fields.by_field) as mapped_by_field,
    count(*) filter (where fields.beside_name) as beside_name,
    count(*) filter (where fields.beside_name and fields.field_maps) as beside_name_by_code
from fields
group by fields.source_file, fields.field
order by fields.source_file, fields.field
