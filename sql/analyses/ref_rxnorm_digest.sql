-- A digest of the imported RxNorm crosswalk for the engine's fingerprint (transforms/incremental.py): its
-- row count and an order-free hash of its rows, so a night after an import changed it recomputes everyone.
-- Input: ref_rxnorm.
select count(*) || ':' || coalesce(bit_xor(hash(rxcui, ingredient, route)), 0) as crosswalk
from ref_rxnorm
