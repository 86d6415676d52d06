-- derived_claim_id(prefix, row_key, source_row): a claim id for sources without one (SCDM, PDE files
-- without PDE_ID, mappings without a claim id column): the prefix, a hash of the row's identifying
-- fields (`row_key`: concat_ws('|', coalesce(field, ''), ...)) and the occurrence number among
-- identical rows in file order (`source_row`), so rereading the same data gives the same ids.
-- A window function: use it in a SELECT over the source's rows. Created per connection (temp).
create or replace temp macro derived_claim_id(prefix, row_key, source_row) as
    prefix || substr(md5(row_key), 1, 16) || '-'
    || row_number() over (partition by row_key order by source_row)::varchar
