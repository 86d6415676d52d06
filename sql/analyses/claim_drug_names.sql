-- The distinct drug names of the claims (to be mapped), thousands even for 100M claims: they are
-- mapped once in Python (serosurv.core.drugnames) and joined in SQL. Input: claims.
select distinct drug_name from claims where drug_name is not null
