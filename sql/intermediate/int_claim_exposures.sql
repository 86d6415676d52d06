-- One row per active claim and rule ingredient (and route): the days it covers, before exact duplicates
-- are dropped (sql/intermediate/int_fill_exposure.sql). An active claim is a paid or adjusted claim up to
-- the run date that no reversal or adjustment cancelled (cancelled_claims,
-- sql/intermediate/int_cancelled_claims.sql); only ingredients that appear in a rule need exposure. Its
-- end is the supply_end macro (sql/macros/supply_end.sql): inclusive (default) fill_date + days_supply - 1;
-- OMOP drug_era mode ($omop_end): fill_date + days_supply, as the OHDSI era script does; an order's own end
-- date is used as given. An ongoing order (a start without stop date or days supply) ends on the night
-- $as_of, at most $ongoing_max_days from its start (macro ongoing_end), as if that were its end date: a
-- later night extends it, a stop (an adjustment with an end date) replaces it.
-- Parameters: $omop_end, $as_of, $ongoing_max_days. Inputs: claims, cancelled_claims, fill_ingredients,
-- rule_ingredients (ingredient); macros supply_end, ongoing_end.
-- Run with the joins as written (transforms.sql.joins_as_written): the hash table is built on the
-- claims' ingredients, not on the active claims, which DuckDB estimates at a twenty-fifth of what they
-- are (a filter, then an anti join) and would otherwise build on: 10M-100M claims of 12 columns. 2.1 ->
-- 1.5 s at 10M claims, 48 -> 14-16 s at 100M, where that table no longer fits in memory.
with active_claims as (
    select
        claims.*,
        case
            when claims.ongoing then ongoing_end(claims.fill_date, $as_of, $ongoing_max_days) else claims.end_date
        end as given_end
    from claims
    anti join cancelled_claims
        on claims.patient_id = cancelled_claims.patient_id and claims.claim_id = cancelled_claims.claim_id
    where claims.fill_date <= $as_of and claims.claim_status in ('paid', 'adjusted')
)

select
    active_claims.patient_id,
    fill_ingredients.ingredient,
    fill_ingredients.route,
    active_claims.claim_id,
    active_claims.prescriber_id,
    active_claims.pharmacy_id,
    active_claims.fill_date as exposure_start,
    supply_end(active_claims.fill_date, active_claims.days_supply, active_claims.given_end, $omop_end)
        as exposure_end,
    coalesce(active_claims.days_supply, datediff('day', active_claims.fill_date, active_claims.given_end) + 1)
        as days_supply,
    coalesce(active_claims.ndc, active_claims.drug_name, active_claims.rxcui) as product,
    active_claims.quantity,
    coalesce(active_claims.ongoing, false) as ongoing
from active_claims
inner join fill_ingredients
    on active_claims.claim_id = fill_ingredients.claim_id and active_claims.patient_id = fill_ingredients.patient_id
where fill_ingredients.ingredient in (select rule_ingredients.ingredient from rule_ingredients)
