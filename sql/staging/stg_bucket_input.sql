-- One bucket's rows of an engine input (claims or fill_ingredients), read back from the Parquet files
-- bucket_claims.sql / bucket_fill_ingredients.sql wrote, into the bucket's own warehouse (the table
-- named by transforms/buckets.py). Parameter: $files (the list of the bucket's files).
select * exclude (bucket)
from read_parquet($files, hive_partitioning = true)
