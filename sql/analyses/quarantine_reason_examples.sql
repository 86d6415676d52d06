-- The rows run $run_id quarantined, per reason code: rows, one reason text and up to $examples example
-- rows (source file and row number, the first ones). Most rows first. Input: quarantine.
select
    quarantine.reason_code,
    count(*) as quarantined_rows,
    any_value(quarantine.reason) as reason,
    list(quarantine.source_file || ' row ' || quarantine.source_row order by quarantine.source_file, quarantine.source_row)[
        1:$examples
    ] as examples
from quarantine
where quarantine.run_id = $run_id
group by quarantine.reason_code
order by quarantined_rows desc, quarantine.reason_code
