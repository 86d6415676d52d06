-- Fragmentation of the night's current (not resolved) alerts, per severity and in total (is_total, last):
-- alerts; how many had their two drugs from different prescribers, the same one, or an unknown one; the
-- same for pharmacies; and how many had 1, 2 or 3+ prescribers of serotonergic drugs in their window.
-- Most severe first (by the severity points of the priority). Input: report_worklist (the staged
-- worklist, sql/marts/worklist.sql).
select
    severity,
    count(*) as alerts,
    count(*) filter (where cross_prescriber) as cross_prescriber,
    count(*) filter (where not cross_prescriber) as same_prescriber,
    count(*) filter (where cross_prescriber is null) as prescriber_unknown,
    count(*) filter (where cross_pharmacy) as cross_pharmacy,
    count(*) filter (where not cross_pharmacy) as same_pharmacy,
    count(*) filter (where cross_pharmacy is null) as pharmacy_unknown,
    count(*) filter (where coalesce(n_serotonergic_prescribers, 0) = 1) as one_prescriber,
    count(*) filter (where coalesce(n_serotonergic_prescribers, 0) = 2) as two_prescribers,
    count(*) filter (where coalesce(n_serotonergic_prescribers, 0) >= 3) as three_or_more_prescribers,
    grouping(severity) = 1 as is_total,
    max(coalesce(priority_parts.severity, 0)) as points
from report_worklist
where status <> 'resolved'
group by rollup (severity)
order by is_total, points desc, severity
