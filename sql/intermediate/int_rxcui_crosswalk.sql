-- rxcui_crosswalk: every RxNorm code that maps to rule ingredients (ingredients, clinical and branded drugs,
-- their components and dose-form groups, packs), with the route where it matters and where the row comes
-- from. The warehouse's `ref_rxnorm` (a user's RxNorm release or OMOP vocabulary, serosurv reference
-- import-rxnorm) decides the codes it holds; the crosswalk shipped in rules/rxnorm/ (`shipped_rxcui`) maps
-- the others, and the agents' own ingredient codes (agents.csv rxcui, `agent_rxcuis`) any left.
-- Inputs: ref_rxnorm, shipped_rxcui (rxcui, ingredient, route, tty, name), agent_rxcuis (rxcui, ingredient).
select ref_rxnorm.rxcui, ref_rxnorm.ingredient, ref_rxnorm.route, ref_rxnorm.source
from ref_rxnorm
union all
select shipped_rxcui.rxcui, shipped_rxcui.ingredient, shipped_rxcui.route, 'rules/rxnorm' as source
from shipped_rxcui
where shipped_rxcui.rxcui not in (select ref_rxnorm.rxcui from ref_rxnorm)
union all
select agent_rxcuis.rxcui, agent_rxcuis.ingredient, null as route, 'agents.csv' as source
from agent_rxcuis
where
    agent_rxcuis.rxcui not in (select ref_rxnorm.rxcui from ref_rxnorm)
    and agent_rxcuis.rxcui not in (select shipped_rxcui.rxcui from shipped_rxcui)
