-- The night's worklist as written to alerts.parquet: one row per alert in worklist order (most dangerous
-- first), lists kept as lists, the priority parts as a JSON object of every part. Input: report_worklist
-- (the staged worklist, sql/marts/worklist.sql).
select
    alert_id, status, unreviewed, status_reasons, quiet, priority,
    to_json(priority_parts)::varchar as priority_parts,
    severity, patient_id, ingredient_a, ingredient_b, rule_id, kind, first_overlap_date, last_overlap_date,
    overlap_days, longest_overlap_days, washout_gap_days, initiation_order, cross_prescriber, cross_pharmacy,
    prescriber_ids_a, prescriber_ids_b, pharmacy_ids_a, pharmacy_ids_b, n_serotonergic_prescribers,
    claim_ids_a, claim_ids_b, reason_for_service, clinical_significance, other_prescriber_indicator,
    other_pharmacy_indicator, opened_on, last_change_on, guidance, as_of, run_id, rules_hash, config_hash,
    approximate_names
from report_worklist
order by position
