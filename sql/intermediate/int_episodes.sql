-- Continuous exposure episodes per patient and ingredient, with the fills, prescribers and
-- pharmacies that built them. Parameters: $extension_days, $min_episode_days. Input: episode_fills.
select
    episode_id,
    patient_id,
    ingredient,
    min(exposure_start) as episode_start,
    max(exposure_end) + $extension_days as episode_end,
    count(distinct claim_id)::integer as n_fills,
    list_sort(list_distinct(list(claim_id))) as claim_ids,
    list_sort(list_distinct(list(prescriber_id))) as prescriber_ids,
    list_sort(list_distinct(list(pharmacy_id))) as pharmacy_ids,
    list_sort(list_distinct(list(route))) as routes
from episode_fills
group by episode_id, patient_id, ingredient
having datediff('day', min(exposure_start), max(exposure_end) + $extension_days) + 1 >= $min_episode_days
