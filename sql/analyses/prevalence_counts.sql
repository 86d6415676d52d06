-- Person-level prevalence counts per interval and innermost stratum (age band x sex); the margins are sums
-- of these (a person has one age band and one sex per interval), added by transforms/prevalence.py. Two
-- kinds of row, by `measure`:
--   'denominator': people per interval, user group and stratum. $members = true: one group (-1), the
--   patients whose coverage overlaps the window (partial contribution: any covered day counts).
--   $members = false: per user group of prevalence_user_groups, the people with an episode of one of its
--   ingredients overlapping the window (rows with the same denominator share a group, so it is counted once).
--   'numerator': per interval and output row (pair, class pair or any interacting pair), the people with a
--   co-exposure day of one of the row's pairs inside the window (and, for members, inside their coverage)
--   who are in the row's denominator (prevalence_rows.user_group): a numerator is a subset of its
--   denominator.
-- The window of an interval is the whole interval (period prevalence) or its point date (point
-- prevalence), set by the caller in prevalence_intervals. Every row is one person once (rows are distinct
-- per interval, group or row, and person), so count(*) counts people.
-- Age band: age reached in the interval's first year (interval year - birth year), in the bands of the
-- [research] settings: $age_bounds, the ages at which each band after the first starts (e.g. [18, 45, 65,
-- 75]), and $age_labels, one name per band (e.g. ['0-17', '18-44', '45-64', '65-74', '75+']).
-- Inputs: prevalence_intervals (interval_label, interval_start, window_start, window_end),
-- prevalence_rows (row_label, user_group), prevalence_row_pairs (row_label, ingredient_a, ingredient_b),
-- prevalence_user_groups (user_group, ingredient), prevalence_coexposure, patients, episodes.
-- Parameters: $members, $age_bounds, $age_labels.
with people as (
    select
        patients.patient_id,
        any_value(patients.birth_year) as birth_year,
        any_value(coalesce(nullif(trim(patients.sex), ''), 'unknown')) as sex
    from patients
    group by patients.patient_id
),

coverage as (
    select
        prevalence_intervals.interval_label,
        patients.patient_id,
        greatest(patients.coverage_start, prevalence_intervals.window_start) as covered_from,
        least(patients.coverage_end, prevalence_intervals.window_end) as covered_to
    from patients
    inner join prevalence_intervals
        on
            patients.coverage_start <= prevalence_intervals.window_end
            and patients.coverage_end >= prevalence_intervals.window_start
    where $members
),

denominators as (
    select distinct
        coverage.interval_label,
        -1 as user_group,
        coverage.patient_id
    from coverage
    union all
    select distinct
        prevalence_intervals.interval_label,
        prevalence_user_groups.user_group,
        episodes.patient_id
    from episodes
    inner join prevalence_user_groups on episodes.ingredient = prevalence_user_groups.ingredient
    inner join prevalence_intervals
        on
            episodes.episode_start <= prevalence_intervals.window_end
            and episodes.episode_end >= prevalence_intervals.window_start
    where not $members
),

cases as (
    select distinct
        prevalence_intervals.interval_label,
        prevalence_row_pairs.row_label,
        prevalence_coexposure.patient_id
    from prevalence_coexposure
    inner join prevalence_row_pairs
        on
            prevalence_coexposure.ingredient_a = prevalence_row_pairs.ingredient_a
            and prevalence_coexposure.ingredient_b = prevalence_row_pairs.ingredient_b
    inner join prevalence_intervals
        on
            prevalence_coexposure.coexposure_start <= prevalence_intervals.window_end
            and prevalence_coexposure.coexposure_end >= prevalence_intervals.window_start
    left join coverage
        on
            prevalence_intervals.interval_label = coverage.interval_label
            and prevalence_coexposure.patient_id = coverage.patient_id
            and prevalence_coexposure.coexposure_start <= coverage.covered_to
            and prevalence_coexposure.coexposure_end >= coverage.covered_from
    where not $members or coverage.patient_id is not null
),

counted as (
    select
        'denominator' as measure,
        denominators.interval_label,
        null::varchar as row_label,
        denominators.user_group,
        denominators.patient_id
    from denominators
    union all
    select
        'numerator' as measure,
        cases.interval_label,
        cases.row_label,
        prevalence_rows.user_group,
        cases.patient_id
    from cases
    inner join prevalence_rows on cases.row_label = prevalence_rows.row_label
    semi join denominators
        on
            cases.interval_label = denominators.interval_label
            and prevalence_rows.user_group = denominators.user_group
            and cases.patient_id = denominators.patient_id
)

select
    counted.measure,
    counted.interval_label,
    counted.row_label,
    counted.user_group,
    case
        when people.birth_year is null then 'unknown'
        -- the band whose lower bound is the last one reached (before the first bound: the first band)
        else $age_labels[1 + len(list_filter(
            $age_bounds::integer[],
            lambda bound: bound <= year(prevalence_intervals.interval_start) - people.birth_year
        ))]
    end as age_band,
    coalesce(people.sex, 'unknown') as sex,
    count(*) as people
from counted
inner join prevalence_intervals on counted.interval_label = prevalence_intervals.interval_label
left join people on counted.patient_id = people.patient_id
group by all
