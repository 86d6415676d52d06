-- normalise_ndc(ndc): an NDC as the 11-digit 5-4-2 string, or NULL when it cannot be known; the one
-- definition, used by validation (sql/staging/stg_checked.sql) and, through
-- serosurv.core.drugnames.normalise_ndc, by Python (the FDA NDC Directory import). Takes text already
-- trimmed. 11 digits pass through; hyphenated 4-4-2, 5-3-2 and 5-4-1 are zero-padded in the short
-- segment; 5-4-2 with hyphens loses them. Ten digits without hyphens are ambiguous (the missing zero
-- could belong to any segment) and give NULL, as does anything else. Created per connection (temp).
create or replace temp macro normalise_ndc(ndc) as
    case
        when regexp_full_match(ndc, '[0-9]{11}') then ndc
        when regexp_full_match(ndc, '[0-9]{5}-[0-9]{4}-[0-9]{2}') then replace(ndc, '-', '')
        when regexp_full_match(ndc, '[0-9]{4}-[0-9]{4}-[0-9]{2}') then '0' || replace(ndc, '-', '')
        when regexp_full_match(ndc, '[0-9]{5}-[0-9]{3}-[0-9]{2}')
            then substr(ndc, 1, 5) || '0' || substr(ndc, 7, 3) || substr(ndc, 11, 2)
        when regexp_full_match(ndc, '[0-9]{5}-[0-9]{4}-[0-9]{1}')
            then substr(ndc, 1, 5) || substr(ndc, 7, 4) || '0' || substr(ndc, 12, 1)
    end
