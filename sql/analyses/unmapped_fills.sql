-- The number of this night's claims whose drug no source could map (claims_unmapped in the night's
-- summary). Parameter: $run_id. Input: unmapped_drugs.
select coalesce(sum(fills), 0) as fills
from unmapped_drugs
where run_id = $run_id
