-- The sexes in the patient table as prevalence strata ('unknown' for an empty one). Input: patients.
select distinct coalesce(nullif(trim(sex), ''), 'unknown') as sex
from patients
