-- The user's own Parquet files behind the staging view stg_raw and their contract columns, so that a
-- failed read can name the file that cannot be read (transforms/ingest.unreadable_input).
-- Input: stg_inputs.
select path, columns from stg_inputs
