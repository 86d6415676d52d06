-- fhir_patient_id(key): the patient id of a Patient's key (sql/macros/fhir_reference.sql) as the FHIR
-- adapter writes it to claims and patients alike: 'Patient/123' -> '123', a Bundle entry's
-- 'urn:uuid:5f0c...' -> '5f0c...'. Created per connection (temp).
create or replace temp macro fhir_patient_id(key) as
    regexp_replace(key, '^(Patient/|urn:uuid:)', '')
