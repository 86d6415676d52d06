-- Periods of three or more concurrent serotonergic drugs reaching into the $lookback_days days before the
-- night $as_of (every period when $as_of is null): patient, from, to, days, most drugs at once, drugs,
-- prescribers and their number; the $limit with the most concurrent drugs, then prescribers, then days.
-- Input: serotonergic_burden.
select
    serotonergic_burden.patient_id,
    serotonergic_burden.burden_start,
    serotonergic_burden.burden_end,
    serotonergic_burden.burden_days,
    serotonergic_burden.max_concurrent,
    serotonergic_burden.ingredients,
    serotonergic_burden.prescriber_ids,
    serotonergic_burden.n_prescribers
from serotonergic_burden
where
    $as_of::date is null
    or (
        serotonergic_burden.burden_end >= $as_of::date - $lookback_days::integer
        and serotonergic_burden.burden_start <= $as_of::date
    )
order by
    serotonergic_burden.max_concurrent desc,
    serotonergic_burden.n_prescribers desc,
    serotonergic_burden.burden_days desc,
    serotonergic_burden.patient_id
limit $limit
