-- Whether the warehouse has a table named $name (a warehouse written by an older serosurv may lack a
-- newer contract table). One row, column `present`. Input: DuckDB's catalogue.
select count(*) > 0 as present
from duckdb_tables()
where table_name = $name
