-- trimmed_text(value): a text field as validation reads it: without leading and trailing spaces (DuckDB's
-- trim: the space and the other Unicode space separators), NULL when nothing is left. The same as
-- nullif(trim(value), ''), but a value that starts and ends with neither a space nor any non-ASCII
-- character (nearly every id) is taken as it is: trim copies every value, half a second per 10M ids.
-- Created per connection (temp).
create or replace temp macro trimmed_text(value) as
    case
        when value like ' %' or value like '% ' or strlen(value) <> length(value) then nullif(trim(value), '')
        else nullif(value, '')
    end
