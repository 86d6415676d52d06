-- The night's quarantined rows per reason code, most frequent first (quarantined_<code> in the night's
-- summary). Parameter: $run_id. Input: quarantine.
select reason_code, count(*) as n_rows
from quarantine
where run_id = $run_id
group by reason_code
order by n_rows desc, reason_code
