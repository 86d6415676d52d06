-- qualified_id(id, kind): a prescriber or pharmacy id of a CMS PDE file with its NCPDP ID qualifier
-- (PRSCRBR_ID_QLFYR_CD, SRVC_PRVDR_ID_QLFYR_CD): an NPI (01), or an id without a qualifier, as written;
-- another kind prefixed with its name (`DEA:AB1234563`, `NCPDP:0512345`, `QUALIFIER-05:...` for a code
-- not listed), so that two kinds of number never read as one prescriber. Created per connection (temp).
create or replace temp macro qualified_id(id, kind) as
    case
        when id is null or kind is null or kind = '01' then id
        else case kind
            when '06' then 'UPIN' when '07' then 'NCPDP' when '08' then 'STATE-LICENSE' when '11' then 'TIN'
            when '12' then 'DEA' when '99' then 'OTHER' else 'QUALIFIER-' || kind
        end || ':' || id
    end
