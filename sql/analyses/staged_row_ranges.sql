-- The rows of each file behind the staging view `stg_raw`: its first and last source_row (the 1-based row
-- in the file), from which validation cuts the batch into slices of rows that fit in memory
-- (transforms/validate.py). Reads only the row numbers (DuckDB's own for Parquet).
select min(source_row) as first_row, max(source_row) as last_row
from stg_raw
group by source_file
