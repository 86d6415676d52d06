-- Episodes shorter than the minimum are gone (sql/intermediate/int_episodes.sql): so are their fills,
-- for the interaction step. Acts on episode_fills; input: episodes.
delete from episode_fills
where episode_id not in (select episodes.episode_id from episodes)
