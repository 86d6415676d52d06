-- Episodes shorter than the minimum are gone (sql/intermediate/int_episodes.sql): so are their fills,
-- for the interaction step. Acts on episode_fills; input: episodes. Run only when the minimum is above
-- one day (every episode lasts at least a day). An episode is its patient, ingredient and first day: the
-- fills of a kept episode are those of its number whose first fill starts it.
delete from episode_fills
where (patient_id, ingredient, episode_no) not in (
    select (first_fill.patient_id, first_fill.ingredient, first_fill.episode_no)
    from episode_fills as first_fill
    semi join episodes
        on
            first_fill.patient_id = episodes.patient_id
            and first_fill.ingredient = episodes.ingredient
            and first_fill.exposure_start = episodes.episode_start
)
