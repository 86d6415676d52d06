-- The resources of one FHIR JSON file (a Bundle, or a single resource) as rows for
-- stg_fhir_resources.sql: one row per Bundle entry, numbered in file order from 1 (`source_row`: the
-- entry's position, counting entries without a resource, e.g. a history Bundle's deletions, which give
-- an empty `resource`); a file holding one resource is row 1. A file of several JSON values numbers
-- their entries on. Written to Parquet by transforms/adapters/fhir.py, as the NDJSON lines are.
-- Parameters: $path (the file; gzip is read transparently), $source_file (its full path), $role
-- (claims or patients: which option named it). Bundles larger than 1 GiB are refused by the reader.
with documents as (
    select json as document, ordinality as document_number
    from read_json_objects($path, format = 'unstructured', maximum_object_size = 1073741824) with ordinality
),

items as (
    select
        document_number,
        unnest(json_extract(document, '$.entry[*]')) as entry,
        generate_subscripts(json_extract(document, '$.entry[*]'), 1) as entry_number
    from documents
    where json_extract_string(document, '$.resourceType') = 'Bundle'
    union all
    select
        document_number,
        json_object('resource', document) as entry,
        0 as entry_number
    from documents
    where json_extract_string(document, '$.resourceType') is distinct from 'Bundle'
)

select
    $source_file as source_file,
    row_number() over (order by document_number, entry_number) as source_row,
    json_extract_string(entry, '$.fullUrl') as full_url,
    json_extract(entry, '$.resource')::varchar as resource,
    $role as role
from items
