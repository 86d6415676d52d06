-- A digest of the NDC crosswalk for the engine's fingerprint (transforms/incremental.py): its row count
-- and an order-free hash of its rows, so a night after the crosswalk changed recomputes everyone.
-- Input: ref_ndc.
select count(*) || ':' || coalesce(bit_xor(hash(ndc, ingredient, route)), 0) as crosswalk
from ref_ndc
