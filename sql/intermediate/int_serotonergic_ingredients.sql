-- The ingredients that count toward serotonergic burden: $serotonergic (a list, chosen from the rules'
-- agents by the caller), or every rule ingredient when it is NULL.
-- Parameter: $serotonergic. Input: rule_ingredients.
select ingredient from rule_ingredients where $serotonergic::varchar[] is null
union all
select unnest($serotonergic::varchar[]) as ingredient
