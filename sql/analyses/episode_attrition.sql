-- The episode step's attrition counts for the night's summary (runs' attrition rows, in this order):
-- reversal claims read, claims a reversal or adjustment cancelled, exact duplicate fills dropped,
-- same-day fills combined, fills used, episodes.
-- Inputs: candidate_claims, active_claims, fill_ingredients, rule_ingredients, fill_exposure, fills,
-- episodes.
select
    (select count(*) from candidate_claims where claim_status = 'reversed') as reversal_claims,
    (select count(*) from candidate_claims where claim_status in ('paid', 'adjusted'))
    - (select count(*) from active_claims) as claims_cancelled,
    (
        select count(*)
        from active_claims
        inner join fill_ingredients
            on
                active_claims.claim_id = fill_ingredients.claim_id
                and active_claims.patient_id = fill_ingredients.patient_id
        where fill_ingredients.ingredient in (select rule_ingredients.ingredient from rule_ingredients)
    ) - (select count(*) from fill_exposure) as duplicate_fills_dropped,
    (select count(*) from fill_exposure) - (select count(*) from fills) as same_day_fills_combined,
    (select count(*) from fill_exposure) as fills_used,
    (select count(*) from episodes) as episodes
