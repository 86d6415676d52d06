-- The DuckDB anchor (benchmarks/anchors.py): what benchmarks/pandas_reference.py computes, in one query.
-- Episodes per patient and ingredient with a 7-day grace (a fill starts a new episode when more than 7
-- days since the last covered day of the earlier fills are uncovered; ends inclusive), then the pairs of
-- episodes of two ingredients with a rule that share at least one day: per patient and ingredient pair,
-- the first shared day and the shared days summed.
-- Parameters: $fills (patient_id, ingredient, fill_date, days_supply), $pairs (ingredient_a, ingredient_b).
with fills as (
    select patient_id, ingredient, fill_date, fill_date + (days_supply - 1) as fill_end, file_row_number
    from read_parquet($fills, file_row_number = true)
),

-- one sort of the fills per patient and ingredient, by date (the row in the file breaks ties): the last
-- day covered by the earlier fills, the row's position, and the partition's last covered day and size
covered as (
    select
        patient_id, ingredient, fill_date,
        max(fill_end) over (by_date rows between unbounded preceding and 1 preceding) as covered_until,
        row_number() over by_date as position,
        max(fill_end) over (by_date rows between unbounded preceding and unbounded following) as last_end,
        count(*) over (by_date rows between unbounded preceding and unbounded following) as n_rows
    from fills
    window by_date as (partition by patient_id, ingredient order by fill_date, file_row_number)
),

-- a fill more than 7 uncovered days after the earlier fills starts an episode (never two on one date:
-- a second fill that day is covered by the first)
episode_starts as (
    select patient_id, ingredient, fill_date, covered_until, position, last_end, n_rows
    from covered
    where covered_until is null or fill_date - covered_until > 8
),

-- an episode runs to the next start: its end is the day covered before the next start (the covered
-- days only grow), or the partition's last covered day; its fills are the rows in between
episodes as materialized (
    select
        patient_id, ingredient, fill_date as episode_start,
        coalesce(lead(covered_until) over next_start, last_end) as episode_end,
        coalesce(lead(position) over next_start, n_rows + 1) - position as n_fills
    from episode_starts
    window next_start as (partition by patient_id, ingredient order by fill_date)
),

rule_pairs as materialized (
    select distinct ingredient_a, ingredient_b from read_parquet($pairs)
),

ruled_episodes as materialized (
    select patient_id, ingredient, episode_start, episode_end
    from episodes
    where ingredient in (select ingredient_a from rule_pairs union select ingredient_b from rule_pairs)
),

overlapping as (
    select
        a.patient_id, r.ingredient_a, r.ingredient_b,
        greatest(a.episode_start, b.episode_start) as first_day,
        least(a.episode_end, b.episode_end) as last_day
    from ruled_episodes as a
    join rule_pairs as r on r.ingredient_a = a.ingredient
    join ruled_episodes as b on b.patient_id = a.patient_id and b.ingredient = r.ingredient_b
    where greatest(a.episode_start, b.episode_start) <= least(a.episode_end, b.episode_end)
),

-- the result pandas_reference builds: one row per patient and ingredient pair
interacting_pairs as materialized (
    select patient_id, ingredient_a, ingredient_b,
        min(first_day) as first_overlap,
        sum(last_day - first_day + 1) as overlap_days
    from overlapping
    group by patient_id, ingredient_a, ingredient_b
)

select
    (select count(*) from episodes) as episodes,
    count(*) as pairs,
    coalesce(sum(overlap_days), 0) as overlap_days
from interacting_pairs
