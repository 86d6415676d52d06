-- supply_days(fill_date, supply_end, omop_end): the days a supply covers from its fill date to its
-- end (sql/macros/supply_end.sql, same conventions): supply_end - fill_date + 1 when the end is the last
-- covered day, supply_end - fill_date when it is the day after (omop_end). The inverse of supply_end:
-- supply_days(d, supply_end(d, n, null, o), o) = n. Created per connection (temp).
create or replace temp macro supply_days(fill_date, supply_end, omop_end) as
    datediff('day', fill_date, supply_end) + (case when omop_end then 0 else 1 end)
