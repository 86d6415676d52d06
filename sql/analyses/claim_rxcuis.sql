-- The distinct RxNorm codes of the claims (to be mapped in Python, as drug names are). Input: claims.
select distinct rxcui from claims where rxcui is not null
