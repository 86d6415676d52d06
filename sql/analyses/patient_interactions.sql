-- One patient's interactions as the latest night stored them (for `serosurv explain`). Parameter:
-- $patient. Input: interactions.
select *
from interactions
where patient_id = $patient
order by ingredient_a, ingredient_b, first_overlap_date, kind
