-- Person-level prevalence counts per interval, output row (pair, class pair or any interacting pair)
-- and stratum (age band x sex, with every margin: grouping sets by cube). A person counts at most once
-- in a numerator and once in a denominator of a cell; numerators are always a subset of their
-- denominator. The window of an interval is the whole interval (period prevalence) or its point date
-- (point prevalence), set by the caller in prevalence_intervals.
-- Denominators: $members = true: patients whose coverage overlaps the window (partial contribution:
-- any covered day counts), the same for every output row; a case needs a co-exposure day inside both
-- the window and the person's coverage. $members = false: people with an episode of one of the row's
-- denominator ingredients (prevalence_row_users) overlapping the window; a case needs a co-exposure
-- day inside the window.
-- Age band: age reached in the interval's first year (interval year - birth year), in the bands of the
-- [research] settings: $age_bounds, the ages at which each band after the first starts (e.g. [18, 45, 65,
-- 75]), and $age_labels, one name per band (e.g. ['0-17', '18-44', '45-64', '65-74', '75+']).
-- Inputs: prevalence_intervals (interval_label, interval_start, window_start, window_end),
-- prevalence_row_pairs (row_label, ingredient_a, ingredient_b), prevalence_row_users (row_label,
-- ingredient), prevalence_coexposure, patients, episodes. Parameters: $members, $age_bounds,
-- $age_labels.
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

member_denominators as (
    select distinct coverage.interval_label, coverage.patient_id
    from coverage
),

user_denominators as (
    select distinct
        prevalence_intervals.interval_label,
        prevalence_row_users.row_label,
        episodes.patient_id
    from episodes
    inner join prevalence_row_users on episodes.ingredient = prevalence_row_users.ingredient
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

person_rows as (
    -- users: one row per interval, output row and person in the denominator, with the case flag;
    -- members: the denominator once per interval (row_label null), and the cases apart
    select
        user_denominators.interval_label,
        user_denominators.row_label,
        user_denominators.patient_id,
        true as in_denominator,
        cases.patient_id is not null as is_case
    from user_denominators
    left join cases
        on
            user_denominators.interval_label = cases.interval_label
            and user_denominators.row_label = cases.row_label
            and user_denominators.patient_id = cases.patient_id
    union all
    select
        member_denominators.interval_label,
        null as row_label,
        member_denominators.patient_id,
        true as in_denominator,
        false as is_case
    from member_denominators
    union all
    select
        cases.interval_label,
        cases.row_label,
        cases.patient_id,
        false as in_denominator,
        true as is_case
    from cases
    where $members
),

stratified as (
    select
        person_rows.interval_label,
        person_rows.row_label,
        person_rows.patient_id,
        person_rows.in_denominator,
        person_rows.is_case,
        case
            when people.birth_year is null then 'unknown'
            -- the band whose lower bound is the last one reached (before the first bound: the first band)
            else $age_labels[1 + len(list_filter(
                $age_bounds::integer[],
                lambda bound: bound <= year(prevalence_intervals.interval_start) - people.birth_year
            ))]
        end as age_band,
        coalesce(people.sex, 'unknown') as sex
    from person_rows
    inner join prevalence_intervals on person_rows.interval_label = prevalence_intervals.interval_label
    left join people on person_rows.patient_id = people.patient_id
)

select
    stratified.interval_label,
    stratified.row_label,
    stratified.age_band,
    stratified.sex,
    grouping(stratified.age_band) = 1 as all_ages,
    grouping(stratified.sex) = 1 as all_sexes,
    count(distinct stratified.patient_id) filter (where stratified.is_case) as numerator,
    count(distinct stratified.patient_id) filter (where stratified.in_denominator) as denominator
from stratified
group by grouping sets (
    (stratified.interval_label, stratified.row_label, stratified.age_band, stratified.sex),
    (stratified.interval_label, stratified.row_label, stratified.age_band),
    (stratified.interval_label, stratified.row_label, stratified.sex),
    (stratified.interval_label, stratified.row_label)
)
