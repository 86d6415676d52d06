-- fhir_date(date_time): the date of a FHIR date or dateTime as 'YYYY-MM-DD', as the source wrote it
-- (the local date of '2019-03-01T23:30:00-05:00' is 2019-03-01: no time zone conversion). A partial
-- date ('2019', '2019-03') is kept as it is: validation quarantines it with a reason naming the value.
-- Created per connection (temp).
create or replace temp macro fhir_date(date_time) as
    case when regexp_matches(date_time, '^[0-9]{4}-[0-9]{2}-[0-9]{2}') then left(date_time, 10) else date_time end
