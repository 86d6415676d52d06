"""The rule catalogue in the warehouse, so reports and users can read each rule's guidance and source."""

from __future__ import annotations

import duckdb
import polars as pl

from serosurv.core.rules import RuleSet

CATALOG_COLUMNS = (
    "rule_id",
    "severity",
    "mechanism",
    "clinical_guidance",
    "source",
    "rule_set",
    "verification_note",
)


def write_rules_catalog(con: duckdb.DuckDBPyConnection, ruleset: RuleSet) -> None:
    catalog = pl.DataFrame(
        [{c: str(getattr(rule, c, "") or "") for c in CATALOG_COLUMNS} for rule in ruleset.rules],
        schema={c: pl.String for c in CATALOG_COLUMNS},
    )
    con.register("catalog_rows", catalog)
    try:
        con.execute(
            "CREATE OR REPLACE TABLE rules_catalog AS SELECT *, $hash AS rules_hash FROM catalog_rows",
            {"hash": ruleset.hash},
        )
    finally:
        con.unregister("catalog_rows")
