-- Quality dashboard: per interacting ingredient pair active between $date_from and $date_to (any day of
-- overlap or washout in the range), the number of people and the highest severity rank of the pair's
-- interactions. One row per pair; no identifier leaves this query. Input: interactions.
select
    interactions.ingredient_a,
    interactions.ingredient_b,
    count(distinct interactions.patient_id) as patients,
    max(interactions.severity_rank) as severity_rank
from interactions
where
    interactions.first_overlap_date <= $date_to::date
    and coalesce(interactions.last_overlap_date, interactions.first_overlap_date) >= $date_from::date
group by interactions.ingredient_a, interactions.ingredient_b
order by interactions.ingredient_a, interactions.ingredient_b
