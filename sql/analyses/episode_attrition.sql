-- The episode step's attrition counts for the night's summary (runs' attrition rows, in this order):
-- reversal claims read, claims a reversal or adjustment cancelled, exact duplicate fills dropped,
-- same-day fills combined, fills used, episodes. cancelled_claims lists only paid claims of rule
-- ingredients and adjustments, up to the run date (sql/intermediate/int_cancelled_claims.sql).
-- Parameter: $as_of. Inputs: claims, cancelled_claims, claim_exposures, fill_exposure, episodes, fills (the
-- session table, or sql/intermediate/int_fills.sql given as an input with its parameters).
select
    (select count(*) from claims where claim_status = 'reversed' and fill_date <= $as_of) as reversal_claims,
    (select count(*) from cancelled_claims) as claims_cancelled,
    (select count(*) from claim_exposures) - (select count(*) from fill_exposure) as duplicate_fills_dropped,
    (select count(*) from fill_exposure) - (select count(*) from fills) as same_day_fills_combined,
    (select count(*) from fill_exposure) as fills_used,
    (select count(*) from episodes) as episodes
