-- known_id(id_text, unknown_ids): a prescriber or pharmacy id, or NULL when it says "unknown": empty,
-- zero however written ('0', '0.0', '0000000000', '0.0E0'; also a lone '-' or '.'), or one of
-- `unknown_ids` (the setting [source] unknown_ids, trimmed and upper-case as
-- serosurv.core.config.SourceConfig keeps them), compared case-insensitively with the trimmed id and,
-- for a float-written id ('-1.0'), with its integer (sql/macros/source_id.sql). A known id is returned
-- trimmed, as written. Used by every input adapter and by validation (sql/staging/stg_checked.sql), so
-- canonical files follow the same rule. Uses the macro source_id. Created per connection (temp).
create or replace temp macro known_id(id_text, unknown_ids) as
    case
        -- (the regular expression only for ids that start with a blank, a sign, a zero or a point)
        when (id_text is null or ord(id_text) in (9, 10, 12, 13, 32, 43, 45, 46, 48))
            and regexp_full_match(coalesce(id_text, ''), '\s*[+-]?0*(\.0*)?\s*') then null
        when len(unknown_ids) > 0 and list_contains(unknown_ids, upper(trim(id_text))) then null
        when contains(id_text, '.')
            and (list_contains(unknown_ids, upper(source_id(id_text))) or ltrim(source_id(id_text), '+-0') = '')
            then null
        else nullif(trim(id_text), '')
    end
