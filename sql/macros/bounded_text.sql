-- bounded_text(value, n): the value, or, when it has more than n characters, its first n followed by a
-- note of its length: what quarantine.raw keeps of a field (sql/staging/stg_checked.sql), so that a
-- runaway value ([source] max_field_length, `field_too_long`) is never copied whole into the warehouse,
-- a query or a report. Created per connection (temp).
create or replace temp macro bounded_text(value, n) as
    case
        when length(value) > n then left(value, n) || '… [cut: ' || format('{:,}', length(value)) || ' characters]'
        else value
    end
