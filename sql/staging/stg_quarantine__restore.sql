-- A failed night's quarantine, saved before its rollback, back into `quarantine` so its rows stay
-- inspectable (serosurv quarantine list --run RUN_ID); a later run of the night replaces them.
-- Parameter: $path (the Parquet file written from sql/analyses/quarantine_of_run.sql).
insert into quarantine by name
select * from read_parquet($path)
