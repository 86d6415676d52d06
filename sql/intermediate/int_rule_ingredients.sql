-- The ingredients the rules name (either side of a rule pair): only they need exposure.
-- Input: rule_pairs (the winning rule per ingredient pair, from RuleSet.pair_table()).
select ingredient_a as ingredient from rule_pairs
union
select ingredient_b as ingredient from rule_pairs
