"""The rule catalogue in the warehouse, so reports and users can read each rule's guidance and source."""

from __future__ import annotations

import duckdb
import polars as pl

from serosurv.core.rules import RuleSet
from transforms.sql import table_from_frame

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
    """Replace the warehouse table `rules_catalog`: one row per rule, with the hash of the rule set."""
    catalog = pl.DataFrame(
        [{c: str(getattr(rule, c, "") or "") for c in CATALOG_COLUMNS} for rule in ruleset.rules],
        schema={c: pl.String for c in CATALOG_COLUMNS},
    ).with_columns(rules_hash=pl.lit(ruleset.hash, dtype=pl.String))
    table_from_frame(con, "rules_catalog", catalog, temp=False)
