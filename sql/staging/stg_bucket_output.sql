-- The buckets' rows of one engine output (fill_exposure, episodes, interactions or serotonergic_burden,
-- the table named by transforms/buckets.py), read back from each bucket's Parquet file into the
-- warehouse. Parameter: $files (the list of files, one per bucket).
select *
from read_parquet($files, hive_partitioning = false)
