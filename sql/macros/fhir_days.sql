-- fhir_days(value, unit): a FHIR Duration or timing period in days, from its value (text) and its unit
-- (the UCUM code, else the unit text): d, wk (7 days), mo (30 days: a pharmacy month), a (365), h
-- (1/24); no unit is days (MedicationDispense.daysSupply). NULL when the value is not a number or the
-- unit not a unit of time. Created per connection (temp).
create or replace temp macro fhir_days(value, unit) as
    try_cast(value as double) * case
        when unit is null or lower(unit) in ('d', 'day', 'days') then 1
        when lower(unit) in ('wk', 'week', 'weeks') then 7
        when lower(unit) in ('mo', 'month', 'months') then 30
        when lower(unit) in ('a', 'year', 'years') then 365
        when lower(unit) in ('h', 'hour', 'hours') then 1 / 24
    end
