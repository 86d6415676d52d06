-- A run's quarantined rows, as stored (kept across the rollback of a failed night). Parameter: $run_id.
-- Input: quarantine.
select quarantine.*
from quarantine
where quarantine.run_id = $run_id
