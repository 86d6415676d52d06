-- Every code of an RxNorm release (or OMOP vocabulary) that holds a rule ingredient: the walk from the
-- release's ingredient codes of the rule agents back along the relationships that keep a product's
-- ingredients (rxnorm_links: a code -> a code nearer its ingredients; packs -> drugs -> components ->
-- ingredients; never through a brand name), one row per code and ingredient, with the code's term type and
-- name (transforms/rxnorm_import.py). Inputs: rxnorm_seeds (rxcui, ingredient), rxnorm_links (from_rxcui,
-- to_rxcui), rxnorm_concepts (rxcui, tty, name).
with recursive reach (rxcui, ingredient) as (
    select rxnorm_seeds.rxcui, rxnorm_seeds.ingredient
    from rxnorm_seeds
    union
    select rxnorm_links.from_rxcui, reach.ingredient
    from rxnorm_links
    inner join reach on rxnorm_links.to_rxcui = reach.rxcui
)

select reach.rxcui, reach.ingredient, rxnorm_concepts.tty, rxnorm_concepts.name
from reach
left join rxnorm_concepts on reach.rxcui = rxnorm_concepts.rxcui
order by reach.rxcui, reach.ingredient
