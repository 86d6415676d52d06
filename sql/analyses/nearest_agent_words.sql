-- For each word of a drug name that maps to nothing (name_words: drug_name, word), the closest rule agent
-- or one-word brand (agent_words: name, ingredients, route) when it is near enough to look misspelt: the
-- night's distances (one edit, two for rule names of 8+ letters; sql/intermediate/int_approximate_words.sql)
-- with any first letter ("zertraline"); the night itself took the unambiguous ones that share the first
-- letter. Farther is not shown: on MIMIC-IV "Diskus" is two edits from "diskets" and "amantadine" three
-- from "amfetamine", and neither is a misspelling. Every name at the smallest distance is kept. Inputs:
-- name_words, agent_words.
with pairs as (
    select
        name_words.drug_name,
        name_words.word,
        agent_words.name as matched_name,
        agent_words.ingredients,
        damerau_levenshtein(name_words.word, agent_words.name) as distance
    from name_words
    cross join agent_words
    where abs(length(name_words.word) - length(agent_words.name)) <= 2
)

select drug_name, word, matched_name, ingredients, distance
from pairs
where distance between 1 and (case when length(matched_name) >= 8 then 2 else 1 end)
qualify distance = min(distance) over (partition by drug_name, word)
order by drug_name, word, matched_name
