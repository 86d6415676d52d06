-- stg_fhir_resources: the resources of a --format fhir input, one row per NDJSON line or Bundle entry
-- (transforms/adapters/fhir.py wrote each file's lines or entries to Parquet: source_file, source_row,
-- full_url, resource as text, role), parsed: resource type, id, and `key`, the name references use
-- for it (sql/macros/fhir_reference.sql: 'Type/id', else its entry's fullUrl, e.g. 'urn:uuid:...').
-- `valid` is false for a line that is not JSON. Blank lines are not rows.
-- Parameter: $files (the Parquet files). Macro: fhir_reference.
with lines as (
    select source_file, source_row::bigint as source_row, full_url, resource as text, role
    from read_parquet($files)
    where nullif(trim(resource), '') is not null
),

parsed as (
    select
        *,
        json_valid(text) as valid,
        case when json_valid(text) then from_json(text, '{"resourceType": "VARCHAR", "id": "VARCHAR"}') end
            as head
    from lines
)

select
    source_file,
    source_row,
    role,
    full_url,
    valid,
    text,
    head.resourceType as resource_type,
    head.id as id,
    coalesce(head.resourceType || '/' || head.id, fhir_reference(full_url)) as key
from parsed
