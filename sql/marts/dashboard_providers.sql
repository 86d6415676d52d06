-- Quality dashboard: prescribers (or pharmacies, $role = 'pharmacy') named on either side of
-- cross-prescriber (cross-pharmacy) interactions active between $date_from and $date_to, with the
-- number of such interactions and of people. Pseudonymous provider ids only. Input: interactions.
with fragmented as (
    select
        interactions.patient_id,
        interactions.interaction_id,
        case
            when $role = 'pharmacy' then list_distinct(list_concat(interactions.pharmacy_ids_a, interactions.pharmacy_ids_b))
            else list_distinct(list_concat(interactions.prescriber_ids_a, interactions.prescriber_ids_b))
        end as provider_ids
    from interactions
    where
        (case when $role = 'pharmacy' then interactions.cross_pharmacy else interactions.cross_prescriber end)
        and interactions.first_overlap_date <= $date_to::date
        and coalesce(interactions.last_overlap_date, interactions.first_overlap_date) >= $date_from::date
)

select
    provider_id,
    count(distinct fragmented.interaction_id) as interactions,
    count(distinct fragmented.patient_id) as patients
from fragmented, unnest(fragmented.provider_ids) as provider (provider_id)
where provider_id is not null
group by provider_id
order by interactions desc, provider_id
