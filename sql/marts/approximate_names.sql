-- Drug names of this night's claims mapped only approximately (a misspelt or foreign form of a rule
-- agent or brand), with the name they were taken for and how many fills and patients carry them: the
-- first thing a pharmacist checks, and accepts into rules/synonyms.csv (serosurv rules add-synonym).
-- Parameter: $run_id. Inputs: claims, map_name (drug_name, ingredient, route, mapped_by),
-- approximate_words (drug_name, word, matched_name).
select
    $run_id as run_id,
    claims.drug_name,
    (
        select string_agg(w.word || ' ~ ' || w.matched_name, '; ' order by w.word)
        from approximate_words as w
        where w.drug_name = claims.drug_name
    ) as likely_match,
    string_agg(distinct approx.ingredient, ';' order by approx.ingredient) as ingredients,
    count(distinct (claims.patient_id, claims.claim_id)) as fills,
    count(distinct claims.patient_id) as patients
from claims
inner join (select * from map_name where mapped_by = 'name_approx') as approx on claims.drug_name = approx.drug_name
where claims.run_id = $run_id
group by claims.drug_name
order by fills desc, claims.drug_name
