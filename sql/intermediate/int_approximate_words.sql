-- Drug names that no rule name matches exactly, matched approximately (approximate_words): a word of
-- the name (5+ letters, not a real drug word) one edit away from a rule agent or brand name (two edits
-- for names of 8+ letters), same first letter, and the closest such name unambiguous (one ingredient set
-- at the best distance). "setraline", "sertralin", "fluoxetin", the Spanish "sertralina" match;
-- "loxapine" (a real drug) never does. Read into Python (transforms/normalise.py), which registers the
-- result as approximate_words. Inputs: name_words (drug_name, word), agent_words (name, ingredients,
-- route).
with pairs as (
    select
        name_words.drug_name,
        name_words.word,
        agent_words.name as matched_name,
        agent_words.ingredients,
        agent_words.route,
        damerau_levenshtein(name_words.word, agent_words.name) as distance
    from name_words
    inner join agent_words
        on
            left(name_words.word, 1) = left(agent_words.name, 1)
            and abs(length(name_words.word) - length(agent_words.name)) <= 2
),

close as (
    select *
    from pairs
    where distance between 1 and (case when length(matched_name) >= 8 then 2 else 1 end)
),

best as (
    select *
    from close
    qualify
        distance = min(distance) over (partition by drug_name, word)
        and count(distinct ingredients) over (partition by drug_name, word, distance) = 1
)

select drug_name, word, min(matched_name) as matched_name, ingredients, any_value(route) as route, distance
from best
group by drug_name, word, ingredients, distance
