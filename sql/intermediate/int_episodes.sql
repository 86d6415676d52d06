-- Continuous exposure episodes per patient and ingredient, with the fills, prescribers and
-- pharmacies that built them. supply_end is the day the patient would run out taking every dose
-- dispensed up to the episode's last fill (early refills carried over, whatever the stockpiling mode),
-- plus the extension: washouts after the episode are measured from it, never from a truncated end.
-- Parameters: $extension_days, $min_episode_days. Input: episode_fills; macro sorted_distinct
-- (sql/macros/sorted_distinct.sql).
-- (n_fills is the length of the distinct claim ids: claim ids are never null, and counting them
-- again with count(distinct) costs a third of the step. The episode id is made here, once per episode,
-- from the episode's number among its patient's episodes of the ingredient: made for every fill in
-- episode_fills, it cost a fifth of that step.)
select
    md5(patient_id || '|' || ingredient || '|' || episode_no::varchar) as episode_id,
    patient_id, ingredient, episode_start, episode_end, len(claim_ids)::integer as n_fills,
    claim_ids, prescriber_ids, pharmacy_ids, routes, supply_end
from (
    select
        episode_no,
        patient_id,
        ingredient,
        min(exposure_start) as episode_start,
        max(exposure_end) + $extension_days as episode_end,
        max(supply_end) + $extension_days as supply_end,
        sorted_distinct(list(claim_id)) as claim_ids,
        sorted_distinct(list(prescriber_id)) as prescriber_ids,
        sorted_distinct(list(pharmacy_id)) as pharmacy_ids,
        sorted_distinct(list(route)) as routes
    from episode_fills
    group by patient_id, ingredient, episode_no
    having datediff('day', min(exposure_start), max(exposure_end) + $extension_days) + 1 >= $min_episode_days
)
