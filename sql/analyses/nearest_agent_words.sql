-- For each word of a drug name that maps to nothing (name_words: drug_name, word), the closest rule agent
-- or one-word brand (agent_words: name, ingredients, route) when it is near enough to look misspelt: at
-- most 2 edits (3 for words of 9 letters or more), any first letter (the night's approximate matcher,
-- sql/intermediate/int_approximate_words.sql, already took the 1-2 edit names that share the first
-- letter). Every name at the smallest distance is kept. Inputs: name_words, agent_words.
with pairs as (
    select
        name_words.drug_name,
        name_words.word,
        agent_words.name as matched_name,
        agent_words.ingredients,
        damerau_levenshtein(name_words.word, agent_words.name) as distance
    from name_words
    cross join agent_words
    where abs(length(name_words.word) - length(agent_words.name)) <= 3
)

select drug_name, word, matched_name, ingredients, distance
from pairs
where distance between 1 and (case when length(word) >= 9 then 3 else 2 end)
qualify distance = min(distance) over (partition by drug_name, word)
order by drug_name, word, matched_name
