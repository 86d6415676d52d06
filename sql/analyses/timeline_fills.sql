-- The fills of both drugs of each charted alert inside its window, for the audit report's timelines. The
-- alerts come from the caller as aligned lists: $alert_ids, $patient_ids, $ingredients_a, $ingredients_b,
-- $window_starts, $window_ends. One row per alert and fill (exposure start and end, prescriber, pharmacy,
-- claim), by alert and start. Input: fill_exposure.
with charted as (
    select
        unnest($alert_ids::varchar[]) as alert_id,
        unnest($patient_ids::varchar[]) as patient_id,
        unnest($ingredients_a::varchar[]) as ingredient_a,
        unnest($ingredients_b::varchar[]) as ingredient_b,
        unnest($window_starts::date[]) as window_start,
        unnest($window_ends::date[]) as window_end
)

select
    charted.alert_id,
    fill_exposure.ingredient,
    fill_exposure.exposure_start,
    fill_exposure.exposure_end,
    fill_exposure.prescriber_id,
    fill_exposure.pharmacy_id,
    fill_exposure.claim_id
from charted
inner join fill_exposure
    on
        charted.patient_id = fill_exposure.patient_id
        and fill_exposure.ingredient in (charted.ingredient_a, charted.ingredient_b)
        and fill_exposure.exposure_end >= charted.window_start
        and fill_exposure.exposure_start <= charted.window_end
order by charted.alert_id, fill_exposure.exposure_start, fill_exposure.claim_id
