-- The rows run $run_id quarantined, per reason code: rows, one reason text and the first example
-- (source file and row). Most rows first. Input: quarantine.
select
    quarantine.reason_code,
    count(*) as quarantined_rows,
    any_value(quarantine.reason) as reason,
    min(quarantine.source_file || ' row ' || quarantine.source_row) as first_example
from quarantine
where quarantine.run_id = $run_id
group by quarantine.reason_code
order by quarantined_rows desc, quarantine.reason_code
