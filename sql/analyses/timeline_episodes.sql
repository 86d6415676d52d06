-- The episodes of both drugs of each charted alert inside its window, for the audit report's timelines.
-- The alerts come from the caller as aligned lists: $alert_ids, $patient_ids, $ingredients_a,
-- $ingredients_b, $window_starts, $window_ends. One row per alert and episode (ingredient, start, end), by
-- alert and start. Input: episodes.
with charted as (
    select
        unnest($alert_ids::varchar[]) as alert_id,
        unnest($patient_ids::varchar[]) as patient_id,
        unnest($ingredients_a::varchar[]) as ingredient_a,
        unnest($ingredients_b::varchar[]) as ingredient_b,
        unnest($window_starts::date[]) as window_start,
        unnest($window_ends::date[]) as window_end
)

select charted.alert_id, episodes.ingredient, episodes.episode_start, episodes.episode_end
from charted
inner join episodes
    on
        charted.patient_id = episodes.patient_id
        and episodes.ingredient in (charted.ingredient_a, charted.ingredient_b)
        and episodes.episode_end >= charted.window_start
        and episodes.episode_start <= charted.window_end
order by charted.alert_id, episodes.episode_start
