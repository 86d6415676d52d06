-- What a --format fhir input holds, for the adapter's log line and its refusal of an input without
-- medication resources: resources per input role (claims, patients) and resource type; lines that are
-- not JSON as '(not JSON)', JSON without a resourceType as '(no resourceType)'.
-- Input: stg_fhir_resources (sql/staging/stg_fhir_resources.sql).
select
    role,
    coalesce(resource_type, case when valid then '(no resourceType)' else '(not JSON)' end) as resource_type,
    count(*) as resources
from stg_fhir_resources
group by all
order by role, resources desc, resource_type
