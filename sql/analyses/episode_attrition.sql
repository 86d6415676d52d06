-- The episode step's attrition counts for the night's summary (runs' attrition rows, in this order):
-- reversal claims read, claims a reversal or adjustment cancelled, exact duplicate fills dropped,
-- same-day fills combined, fills used, episodes. A cancelled claim counts when it is a paid claim of a
-- rule ingredient or an adjustment, up to the run date (the claims the cancellation step considers).
-- Parameter: $as_of. Inputs: claims, cancelled_claims, fill_ingredients, rule_ingredients,
-- claim_exposures, fill_exposure, fills, episodes.
select
    (select count(*) from claims where claim_status = 'reversed' and fill_date <= $as_of) as reversal_claims,
    (
        select count(*)
        from claims
        semi join cancelled_claims
            on claims.patient_id = cancelled_claims.patient_id and claims.claim_id = cancelled_claims.claim_id
        where
            claims.fill_date <= $as_of
            and (
                claims.claim_status = 'adjusted'
                or claims.claim_status = 'paid' and exists (
                    select 1
                    from fill_ingredients
                    where
                        fill_ingredients.patient_id = claims.patient_id
                        and fill_ingredients.claim_id = claims.claim_id
                        and fill_ingredients.ingredient in (select rule_ingredients.ingredient from rule_ingredients)
                )
            )
    ) as claims_cancelled,
    (select count(*) from claim_exposures) - (select count(*) from fill_exposure) as duplicate_fills_dropped,
    (select count(*) from fill_exposure) - (select count(*) from fills) as same_day_fills_combined,
    (select count(*) from fill_exposure) as fills_used,
    (select count(*) from episodes) as episodes
