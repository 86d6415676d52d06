-- Whether alert_history holds rows written before alerts kept their state (patient_id is null), which
-- marts/alert_history__adopt_legacy.sql completes. Row groups without nulls are skipped from their
-- statistics, so asking costs nothing on a long history, unlike the update it guards (0.2-0.3 s at
-- 7.8M rows).
select exists (select 1 from alert_history where patient_id is null)
