-- Co-exposure periods for prevalence: per patient and interacting ingredient pair, the day ranges on
-- which both ingredients are covered by an episode, inside an interaction of kind overlap (so the
-- rule's routes and minimum overlap already hold). Washout interactions have no co-exposure day and
-- are not cases. Days between merged overlap periods of one interaction are not co-exposure days.
-- Inputs: interactions, episodes.
with overlap_interactions as (
    select
        interactions.patient_id,
        interactions.ingredient_a,
        interactions.ingredient_b,
        interactions.first_overlap_date,
        interactions.last_overlap_date
    from interactions
    where interactions.kind = 'overlap'
),

segments as (
    select
        overlap_interactions.patient_id,
        overlap_interactions.ingredient_a,
        overlap_interactions.ingredient_b,
        greatest(episodes_a.episode_start, episodes_b.episode_start, overlap_interactions.first_overlap_date)
            as coexposure_start,
        least(episodes_a.episode_end, episodes_b.episode_end, overlap_interactions.last_overlap_date)
            as coexposure_end
    from overlap_interactions
    inner join episodes as episodes_a
        on
            overlap_interactions.patient_id = episodes_a.patient_id
            and overlap_interactions.ingredient_a = episodes_a.ingredient
    inner join episodes as episodes_b
        on
            overlap_interactions.patient_id = episodes_b.patient_id
            and overlap_interactions.ingredient_b = episodes_b.ingredient
)

select distinct
    segments.patient_id,
    segments.ingredient_a,
    segments.ingredient_b,
    segments.coexposure_start,
    segments.coexposure_end
from segments
where segments.coexposure_start <= segments.coexposure_end
