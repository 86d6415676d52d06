-- ndc_candidates(ndc): the 11-digit NDCs a 10-digit NDC written without hyphens may be. Its layout is
-- unknown (the zero that pads it to 11 digits may belong to the labeler, 4-4-2; the product, 5-3-2; or the
-- package, 5-4-1), so the ten digits are read in each of the three hyphenated layouts and normalised by
-- normalise_ndc, the one definition of padding (sql/macros/normalise_ndc.sql, which must exist on the
-- connection). NULL for anything that is not ten digits. A night keeps the candidate that a crosswalk
-- knows, when exactly one does (sql/intermediate/int_ten_digit_ndcs.sql).
create or replace temp macro ndc_candidates(ndc) as
    case when regexp_full_match(ndc, '[0-9]{10}') then list_distinct([
        normalise_ndc(substr(ndc, 1, 4) || '-' || substr(ndc, 5, 4) || '-' || substr(ndc, 9, 2)),
        normalise_ndc(substr(ndc, 1, 5) || '-' || substr(ndc, 6, 3) || '-' || substr(ndc, 9, 2)),
        normalise_ndc(substr(ndc, 1, 5) || '-' || substr(ndc, 6, 4) || '-' || substr(ndc, 10, 1))
    ]) end
