-- Tonight's worklist state: current interactions (last co-exposure within $lookback_days of the run
-- date) compared with the latest state of each alert before tonight. Status: new (never seen, or
-- seen again after it resolved), changed (severity rose), ongoing, resolved (active before, not
-- current now). Priority: severity first, then fragmentation, washout kind, recency, overlap length,
-- and serotonergic prescribers (see README "Priority"). Parameters: $as_of, $lookback_days, $run_id.
with current_interactions as (
    select *
    from interactions
    where last_overlap_date >= $as_of - $lookback_days::integer and first_overlap_date <= $as_of
),

previous as (
    select alert_id, status, severity
    from alert_history
    where as_of < $as_of
    qualify row_number() over (partition by alert_id order by as_of desc) = 1
),

severity_ranks as (
    select * from (
        values ('contraindicated', 4), ('major', 3), ('moderate', 2), ('minor', 1)
    ) as ranks (severity, severity_rank)
),

scored as (
    select
        current_interactions.interaction_id as alert_id,
        current_interactions.*,
        current_interactions.severity_rank * 100
        + 20 * coalesce(current_interactions.cross_prescriber::integer, 0)
        + 10 * coalesce(current_interactions.cross_pharmacy::integer, 0)
        + 5 * (current_interactions.kind = 'washout')::integer
        + 5 * (current_interactions.last_overlap_date >= $as_of - 7)::integer
        + least(current_interactions.overlap_days, 30) / 6.0
        + 2 * (current_interactions.n_serotonergic_prescribers >= 3)::integer as priority
    from current_interactions
)

select
    scored.alert_id,
    case
        when previous.alert_id is null or previous.status = 'resolved' then 'new'
        when scored.severity_rank > severity_ranks.severity_rank then 'changed'
        else 'ongoing'
    end as status,
    scored.severity,
    scored.priority
from scored
left join previous on scored.alert_id = previous.alert_id
left join severity_ranks on previous.severity = severity_ranks.severity
union all
select previous.alert_id, 'resolved' as status, previous.severity, 0.0 as priority
from previous
where
    previous.status <> 'resolved'
    and previous.alert_id not in (select scored.alert_id from scored)
