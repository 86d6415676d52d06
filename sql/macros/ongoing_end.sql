-- ongoing_end(fill_date, as_of, max_days): the last day an ongoing order (claims.ongoing: a start
-- without stop date or days supply) is exposure on the night `as_of`: the night itself, never later, and
-- at most `max_days` days from its start ([episodes] ongoing_max_days): the start day is day 1. Used as
-- the order's own end date (as given, in either end convention). Created per connection (temp).
create or replace temp macro ongoing_end(fill_date, as_of, max_days) as
    least(as_of, fill_date + (max_days - 1)::integer)
