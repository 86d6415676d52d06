-- Record one run (replacing an earlier row of the same run id, e.g. a failed attempt's): its night,
-- times, status, row counts, the hashes and settings it ran with, its inputs and its message.
-- Parameters: one per runs column but finished_at (now).
insert into runs by name
select
    $run_id as run_id,
    $as_of::date as as_of,
    $started_at::timestamp as started_at,
    now()::timestamp as finished_at,
    $status as status,
    $rows_read::bigint as rows_read,
    $rows_accepted::bigint as rows_accepted,
    $rows_quarantined::bigint as rows_quarantined,
    $config_hash as config_hash,
    $rules_hash as rules_hash,
    $input_files as input_files,
    $message as message,
    $parameters as parameters,
    $engine_fingerprint as engine_fingerprint,
    $recompute as recompute
