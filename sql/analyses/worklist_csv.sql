-- The night's worklist as written to alerts.csv: the columns of worklist_parquet.sql, with lists joined by
-- ';' and the non-zero priority parts spelled out as `part=points` joined by ';' (e.g.
-- 'severity=400;cross_prescriber=20;overlap=2.5'). Input: report_worklist (the staged worklist,
-- sql/marts/worklist.sql).
with parts as (
    select *, to_json(priority_parts) as parts_json
    from report_worklist
)

select
    alert_id, status, unreviewed,
    array_to_string(status_reasons, ';') as status_reasons,
    quiet, priority,
    nullif(array_to_string(list_filter(
        list_transform(
            json_keys(parts_json),
            lambda part: case
                when (parts_json ->> part)::double <> 0
                    then part || '=' || format('{:g}', (parts_json ->> part)::double)
            end
        ),
        lambda spelled: spelled is not null
    ), ';'), '') as priority_parts,
    severity, patient_id, ingredient_a, ingredient_b, rule_id, kind, first_overlap_date, last_overlap_date,
    overlap_days, longest_overlap_days, washout_gap_days, initiation_order, cross_prescriber, cross_pharmacy,
    array_to_string(prescriber_ids_a, ';') as prescriber_ids_a,
    array_to_string(prescriber_ids_b, ';') as prescriber_ids_b,
    array_to_string(pharmacy_ids_a, ';') as pharmacy_ids_a,
    array_to_string(pharmacy_ids_b, ';') as pharmacy_ids_b,
    n_serotonergic_prescribers,
    array_to_string(claim_ids_a, ';') as claim_ids_a,
    array_to_string(claim_ids_b, ';') as claim_ids_b,
    reason_for_service, clinical_significance, other_prescriber_indicator, other_pharmacy_indicator,
    opened_on, last_change_on, guidance, as_of, run_id, rules_hash, config_hash,
    array_to_string(approximate_names, ';') as approximate_names
from parts
order by position
