-- How many patient rows have coverage dates (the members denominator of prevalence needs them).
-- Input: patients.
select count(*) as patients
from patients
where coverage_start is not null and coverage_end is not null
