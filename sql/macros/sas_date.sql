-- sas_date(date_text): a SAS date as SCDM tables export it, as 'YYYY-MM-DD': a day number since
-- 1960-01-01, MM/DD/YYYY, DATE9 (29NOV2005) or ISO; other text is kept as it is (validation
-- quarantines it). Uses the macro iso_date (sql/macros/iso_date.sql). Created per connection (temp).
create or replace temp macro sas_date(date_text) as
    coalesce(
        case
            when regexp_full_match(date_text, '-?[0-9]{1,6}')
                then strftime(date '1960-01-01' + date_text::integer, '%Y-%m-%d')
        end,
        iso_date(date_text, ['%m/%d/%Y', '%d%b%Y', '%Y%m%d'])
    )
