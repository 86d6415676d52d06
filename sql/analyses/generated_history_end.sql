-- The last day of a generated synthetic history (the demo's night): the latest coverage end in its
-- patients file, ignoring the planted future dates of its claims. Parameter: $p (patients.parquet).
select max(coverage_end) as history_end
from read_parquet($p)
