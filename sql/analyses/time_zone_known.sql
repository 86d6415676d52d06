-- Whether DuckDB knows the time zone $zone (an IANA name such as 'America/New_York'), before a staging
-- view shows a file's zoned timestamps in it (transforms/field_text.py). Fails for an unknown zone.
select timezone($zone, timestamptz '2000-01-01 00:00:00+00') is not null as known
