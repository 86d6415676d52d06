-- The first and last fill date of the warehouse's claims (what a prevalence table or the dashboard can
-- measure; before the first fill, earlier supplies are unknown). One row. Input: claims.
select min(claims.fill_date) as first_fill, max(claims.fill_date) as last_fill
from claims
