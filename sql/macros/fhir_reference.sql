-- fhir_reference(reference): a FHIR reference as the key the FHIR adapter finds resources by
-- (transforms/adapters/fhir.py): 'Type/id' for a relative or absolute literal reference (a version,
-- '/_history/n', is dropped: 'http://x/fhir/Patient/7/_history/2' -> 'Patient/7'), anything else (a
-- Bundle's 'urn:uuid:...', a contained '#id') as it is; NULL for empty text. FHIR ids are 1-64 of
-- A-Z a-z 0-9 - . (R4 and STU3 datatypes). Created per connection (temp).
create or replace temp macro fhir_reference(reference) as
    case
        when regexp_matches(reference, '(^|/)[A-Z][A-Za-z]+/[A-Za-z0-9.-]{1,64}(/_history/[A-Za-z0-9.-]{1,64})?$')
            then regexp_extract(reference, '([A-Z][A-Za-z]+/[A-Za-z0-9.-]{1,64})(/_history/[A-Za-z0-9.-]{1,64})?$', 1)
        else nullif(trim(reference), '')
    end
