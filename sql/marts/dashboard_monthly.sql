-- Quality dashboard, per month from $date_from to $date_to: people exposed to a rule ingredient
-- (any episode day in the month), people with an interaction (overlap or washout) active in the month
-- by severity and in total ("any"), and interactions that started in the month with their
-- fragmentation (cross-prescriber and cross-pharmacy: true, false or unknown). Counts of people; no
-- identifier leaves this query. Inputs: episodes, interactions.
with months as (
    select
        month_start::date as month_start,
        (month_start + interval 1 month - interval 1 day)::date as month_end
    from unnest(generate_series(
        date_trunc('month', $date_from::date), date_trunc('month', $date_to::date), interval 1 month
    )) as generated (month_start)
),

exposed as (
    select months.month_start, count(distinct episodes.patient_id) as exposed
    from months
    inner join episodes on episodes.episode_start <= months.month_end and episodes.episode_end >= months.month_start
    group by months.month_start
),

active as (
    select
        months.month_start,
        coalesce(interactions.severity, 'any') as severity,
        count(distinct interactions.patient_id) as patients
    from months
    inner join interactions
        on
            interactions.first_overlap_date <= months.month_end
            and coalesce(interactions.last_overlap_date, interactions.first_overlap_date) >= months.month_start
    group by grouping sets ((months.month_start, interactions.severity), (months.month_start))
),

started as (
    select
        months.month_start,
        count(*) as started,
        count(*) filter (where interactions.cross_prescriber) as cross_prescriber,
        count(*) filter (where not interactions.cross_prescriber) as same_prescriber,
        count(*) filter (where interactions.cross_pharmacy) as cross_pharmacy,
        count(*) filter (where not interactions.cross_pharmacy) as same_pharmacy
    from months
    inner join interactions
        on interactions.first_overlap_date between months.month_start and months.month_end
    group by months.month_start
)

select
    months.month_start,
    coalesce(exposed.exposed, 0) as exposed,
    active.severity,
    coalesce(active.patients, 0) as patients,
    coalesce(started.started, 0) as started,
    coalesce(started.cross_prescriber, 0) as cross_prescriber,
    coalesce(started.same_prescriber, 0) as same_prescriber,
    coalesce(started.cross_pharmacy, 0) as cross_pharmacy,
    coalesce(started.same_pharmacy, 0) as same_pharmacy
from months
left join exposed on months.month_start = exposed.month_start
left join active on months.month_start = active.month_start
left join started on months.month_start = started.month_start
order by months.month_start, active.severity
