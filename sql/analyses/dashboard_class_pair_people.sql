-- Quality dashboard: per drug-class pair, the number of people with an interaction of one of its
-- ingredient pairs active between $date_from and $date_to, and the highest severity rank. The class pair
-- of each ingredient pair comes from the caller as three aligned lists, $ingredients_a, $ingredients_b
-- and $class_pairs (e.g. 'SSRI + opioid_serotonergic'), from the rules' agents. One row per class pair;
-- no identifier leaves this query. Input: interactions.
with classes as (
    select
        unnest($ingredients_a::varchar[]) as ingredient_a,
        unnest($ingredients_b::varchar[]) as ingredient_b,
        unnest($class_pairs::varchar[]) as class_pair
)

select
    classes.class_pair,
    count(distinct interactions.patient_id) as patients,
    max(interactions.severity_rank) as severity_rank
from interactions
inner join classes
    on interactions.ingredient_a = classes.ingredient_a and interactions.ingredient_b = classes.ingredient_b
where
    interactions.first_overlap_date <= $date_to::date
    and coalesce(interactions.last_overlap_date, interactions.first_overlap_date) >= $date_from::date
group by classes.class_pair
order by classes.class_pair
