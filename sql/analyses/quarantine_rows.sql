-- A run's quarantined rows in file order, optionally of one reason code, up to $limit: file, row,
-- reason code and reason (and the row as read, `raw`, which callers show only when asked).
-- Parameters: $run_id, $reason (null = every reason), $limit. Input: quarantine.
select quarantine.source_file, quarantine.source_row, quarantine.reason_code, quarantine.reason, quarantine.raw
from quarantine
where quarantine.run_id = $run_id and ($reason is null or quarantine.reason_code = $reason)
order by quarantine.source_file, quarantine.source_row
limit $limit
