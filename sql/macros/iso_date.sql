-- iso_date(date_text[, formats]): date or timestamp text as 'YYYY-MM-DD', for the input adapters
-- (transforms/adapters). Tried in order: the strptime `formats` given (a list; the first that reads
-- the text wins), then any date or timestamp DuckDB reads. Text no format reads is kept as it is:
-- validation quarantines it with a reason naming the value. Created per connection (temp).
create or replace temp macro iso_date(date_text) as
    coalesce(strftime(try_cast(date_text as timestamp)::date, '%Y-%m-%d'), date_text),
(date_text, formats) as
    coalesce(
        strftime(coalesce(try_strptime(date_text, formats)::date, try_cast(date_text as timestamp)::date), '%Y-%m-%d'),
        date_text
    )
