-- The ingredient pairs with at least one co-exposure period (the pairs a prevalence table can show).
-- Input: prevalence_coexposure (sql/marts/prevalence_coexposure.sql).
select distinct ingredient_a, ingredient_b
from prevalence_coexposure
