-- History rows written before alerts kept their state (patient_id is null) take it from `alerts` (the
-- latest state only: that is all such warehouses kept). Parameter: $levels (the severities, lowest
-- rank first, so that list_position gives the rank).
update alert_history as history set
    patient_id = latest.patient_id,
    ingredient_a = latest.ingredient_a,
    ingredient_b = latest.ingredient_b,
    rule_id = latest.rule_id,
    kind = latest.kind,
    first_overlap_date = latest.first_overlap_date,
    last_overlap_date = latest.last_overlap_date,
    overlap_days = latest.overlap_days,
    cross_prescriber = latest.cross_prescriber,
    cross_pharmacy = latest.cross_pharmacy,
    severity_rank = list_position($levels, history.severity),
    baseline_overlap_days = latest.overlap_days,
    opened_on = (select min(earlier.as_of) from alert_history as earlier where earlier.alert_id = history.alert_id),
    last_change_on = (
        select min(earlier.as_of) from alert_history as earlier where earlier.alert_id = history.alert_id
    )
from alerts as latest
where history.alert_id = latest.alert_id and history.patient_id is null
