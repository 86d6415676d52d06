-- The staged rows that validation did not accept into `claims` (sql/staging/stg_claims.sql runs first):
-- the rows the quarantine's checks run on again (sql/staging/stg_quarantine.sql), so that the checks of
-- the accepted rows, nearly all of them, are computed once. A row is found by its lineage (file, row);
-- a row without one is simply checked again (the quarantine takes only rows that break a rule, so it
-- is never stored twice). Parameter: $run_id. Inputs: stg_raw, claims.
select stg_raw.*
from stg_raw
anti join (
    select claims.source_file, claims.source_row
    from claims
    where claims.run_id = $run_id
) as accepted
    on stg_raw.source_file = accepted.source_file and stg_raw.source_row = accepted.source_row
