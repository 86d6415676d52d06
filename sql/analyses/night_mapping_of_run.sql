-- How a night's fills mapped, per source file and drug field (ndc, rxcui, drug_name), for the night's
-- data-quality page (reports/audit.py). Parameter: $run_id. Input: night_mapping (sql/marts/night_mapping.sql).
select
    night_mapping.source_file,
    night_mapping.field,
    night_mapping.fills,
    night_mapping.field_maps,
    night_mapping.mapped_by_field,
    night_mapping.beside_name,
    night_mapping.beside_name_by_code
from night_mapping
where night_mapping.run_id = $run_id
order by night_mapping.source_file, night_mapping.field
