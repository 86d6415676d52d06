-- source_id(id_text): an identifier as the source meant it, for the input adapters (transforms/adapters),
-- which read every id through it (patient, prescriber, pharmacy, claim, visit and concept ids): trimmed
-- text, empty = NULL, and an integer id a tool wrote as a floating-point number read back as the integer
-- ('12345.0' -> '12345', pandas and R; '1.2345E4' and '1.0E5' -> '12345' and '100000', Java and Spark
-- above 10^7). Scientific notation is read only with a decimal point in the mantissa and when the value
-- is a whole number, so text ids (hex '00013D2EFD8E45D1', '1234E5', '12.5') stay as written. An id
-- above 2^53 that a tool wrote as a float lost digits before serosurv saw it; it is read as written.
-- Created per connection (temp).
create or replace temp macro source_id(id_text) as
    case
        when not contains(id_text, '.') then nullif(trim(id_text), '')
        when regexp_full_match(trim(id_text), '[+-]?[0-9]+\.0*') then regexp_replace(trim(id_text), '\.0*$', '')
        when regexp_full_match(trim(id_text), '[+-]?[0-9]\.[0-9]+[eE]\+?[0-9]{1,2}')
            and length(rtrim(regexp_extract(trim(id_text), '\.([0-9]+)', 1), '0'))
            <= regexp_extract(trim(id_text), '[eE]\+?([0-9]+)$', 1)::integer
            then regexp_extract(trim(id_text), '^([+-]?[0-9])', 1)
            || rpad(
                rtrim(regexp_extract(trim(id_text), '\.([0-9]+)', 1), '0'),
                regexp_extract(trim(id_text), '[eE]\+?([0-9]+)$', 1)::integer,
                '0'
            )
        else nullif(trim(id_text), '')
    end
