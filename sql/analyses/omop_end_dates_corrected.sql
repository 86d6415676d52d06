-- How many OMOP drug_exposure rows had an end date of start + days_supply (the first day without drug)
-- that the adapter moved back a day to start + days_supply - 1 (THEMIS), for the night's attrition.
-- Parameter: $unknown_ids (as stg_omop_claims.sql takes it). Input: omop_claims (sql/staging/
-- stg_omop_claims.sql over the adapter's views). Macros: as stg_omop_claims.sql.
select count(*) as corrected
from omop_claims
where end_date_corrected
