-- One row describing this night's batch for the data-quality gate (transforms/quality.py): rows
-- accepted, rows rejected (quarantined for a reason other than being loaded already or not being a drug
-- order), rows read, the share of accepted rows without a prescriber, and the fill date range.
-- Parameter: $run_id. Inputs: claims, quarantine.
with accepted as (
    select * from claims where run_id = $run_id
),

quarantined as (
    select reason_code from quarantine where run_id = $run_id
)

select
    (select count(*) from accepted) as rows_accepted,
    (select count(*) from quarantined where reason_code not in ('already_loaded', 'not_a_drug_order'))
        as rows_rejected,
    (select count(*) from accepted) + (select count(*) from quarantined) as rows_read,
    (select coalesce(avg((prescriber_id is null)::integer), 0) from accepted) as unknown_prescriber_rate,
    (select min(fill_date) from accepted) as min_fill_date,
    (select max(fill_date) from accepted) as max_fill_date
