-- Quality dashboard, per period (the months of the trend charts; the periods side by side), each given as
-- three aligned lists ($labels, $starts, $ends): people exposed to a rule ingredient (any episode day in the period), people with an
-- interaction (overlap or washout) active in the period by severity and in total (severity 'any'), and
-- interactions that started in the period with their fragmentation (cross-prescriber and cross-pharmacy:
-- true, false or unknown). One row per period and severity (and one with a null severity when no
-- interaction was active). Counts of people; no identifier leaves this query. Inputs: episodes, interactions.
with periods as (
    select
        unnest($labels::varchar[]) as period,
        unnest($starts::date[]) as period_start,
        unnest($ends::date[]) as period_end
),

exposed as (
    select periods.period, count(distinct episodes.patient_id) as exposed
    from periods
    inner join episodes
        on episodes.episode_start <= periods.period_end and episodes.episode_end >= periods.period_start
    group by periods.period
),

active as (
    select
        periods.period,
        coalesce(interactions.severity, 'any') as severity,
        count(distinct interactions.patient_id) as patients
    from periods
    inner join interactions
        on
            interactions.first_overlap_date <= periods.period_end
            and coalesce(interactions.last_overlap_date, interactions.first_overlap_date) >= periods.period_start
    group by grouping sets ((periods.period, interactions.severity), (periods.period))
),

started as (
    select
        periods.period,
        count(*) as started,
        count(*) filter (where interactions.cross_prescriber) as cross_prescriber,
        count(*) filter (where not interactions.cross_prescriber) as same_prescriber,
        count(*) filter (where interactions.cross_pharmacy) as cross_pharmacy,
        count(*) filter (where not interactions.cross_pharmacy) as same_pharmacy
    from periods
    inner join interactions
        on interactions.first_overlap_date between periods.period_start and periods.period_end
    group by periods.period
)

select
    periods.period,
    periods.period_start,
    periods.period_end,
    coalesce(exposed.exposed, 0) as exposed,
    active.severity,
    coalesce(active.patients, 0) as patients,
    coalesce(started.started, 0) as started,
    coalesce(started.cross_prescriber, 0) as cross_prescriber,
    coalesce(started.same_prescriber, 0) as same_prescriber,
    coalesce(started.cross_pharmacy, 0) as cross_pharmacy,
    coalesce(started.same_pharmacy, 0) as same_pharmacy
from periods
left join exposed on periods.period = exposed.period
left join active on periods.period = active.period
left join started on periods.period = started.period
order by periods.period_start, active.severity
