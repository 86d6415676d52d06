-- One rule as the nights used it (rules_catalog, written by each night). Parameter: $rule_id.
select * from rules_catalog where rule_id = $rule_id
