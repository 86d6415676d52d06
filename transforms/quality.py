"""The data-quality gate: a Great Expectations suite over the accepted batch, which stops the night on failure.

Why this route: GX 1.x has no native DuckDB or Polars data source, and its SQLAlchemy route to DuckDB
fails because results are read after the connection closes (GX issue 10738); its pandas route costs
about 11 s per 10M rows. Row-level checks already run in SQL (sql/staging/stg_checked.sql). So the suite
validates two small pandas frames computed in DuckDB: one row of batch metrics (size, quarantine rate,
unknown-prescriber rate, date range: sql/analyses/batch_metrics.sql) and a bounded sample of accepted rows
(sql/analyses/accepted_sample.sql; schema and value checks).
Cost is constant in the batch size and the suite is a real GX suite whose result gates the run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandas as pd
import polars as pl

from serosurv.core.config import ValidationConfig
from serosurv.core.warehouse import CANONICAL_COLUMNS
from transforms.sql import fetch_frame, insert_frame

DQ_RESULT_SCHEMA = {
    "run_id": pl.String,
    "suite": pl.String,
    "expectation": pl.String,
    "success": pl.Boolean,
    "observed": pl.String,
}


@dataclass(frozen=True)
class GateResult:
    success: bool
    results: list[dict[str, Any]]  # expectation, success, observed

    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if not r["success"]]

    def summary(self) -> str:
        failed = self.failures()
        if not failed:
            return f"all {len(self.results)} data-quality expectations passed"
        return "; ".join(f"{r['expectation']} (observed {r['observed']})" for r in failed)


def batch_metrics(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """One row describing this night's batch, computed in DuckDB."""
    metrics = fetch_frame(con, "analyses/batch_metrics.sql", {"run_id": run_id}).to_pandas()
    read = metrics.loc[0, "rows_read"]
    metrics["quarantine_rate"] = float(metrics.loc[0, "rows_rejected"]) / read if read else 0.0
    return metrics


def accepted_sample(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """A bounded sample of this night's accepted claims (its size is in the SQL), canonical columns."""
    return fetch_frame(con, "analyses/accepted_sample.sql", {"run_id": run_id}).to_pandas()


def _suites(gx: Any, limits: ValidationConfig, as_of: date) -> dict[str, Any]:
    e = gx.expectations
    metrics = gx.ExpectationSuite(name="batch_metrics")
    for expectation in (
        e.ExpectColumnValuesToBeBetween(column="rows_accepted", min_value=limits.min_rows_accepted),
        e.ExpectColumnValuesToBeBetween(column="quarantine_rate", max_value=limits.max_quarantine_rate),
        e.ExpectColumnValuesToBeBetween(
            column="unknown_prescriber_rate", max_value=limits.max_unknown_prescriber_rate
        ),
        e.ExpectColumnValuesToBeBetween(
            column="min_fill_date",
            min_value=pd.Timestamp(limits.earliest_fill_date),
            max_value=pd.Timestamp(as_of),
        ),
        e.ExpectColumnValuesToBeBetween(
            column="max_fill_date",
            min_value=pd.Timestamp(limits.earliest_fill_date),
            max_value=pd.Timestamp(as_of),
        ),
    ):
        metrics.add_expectation(expectation)
    sample = gx.ExpectationSuite(name="accepted_claims")
    sample.add_expectation(
        e.ExpectTableColumnsToMatchSet(column_set=list(CANONICAL_COLUMNS), exact_match=True)
    )
    for column in ("claim_id", "patient_id", "fill_date", "claim_status"):
        sample.add_expectation(e.ExpectColumnValuesToNotBeNull(column=column))
    sample.add_expectation(
        e.ExpectColumnValuesToBeInSet(column="claim_status", value_set=["paid", "reversed", "adjusted"])
    )
    sample.add_expectation(e.ExpectColumnValuesToBeBetween(column="days_supply", min_value=1, max_value=365))
    return {"batch_metrics": metrics, "accepted_claims": sample}


def _observed(result: dict[str, Any]) -> str:
    detail = result.get("result", {})
    if "observed_value" in detail:
        return str(detail["observed_value"])
    if "partial_unexpected_list" in detail:
        return f"{detail.get('unexpected_count', 0)} unexpected, e.g. {detail['partial_unexpected_list'][:3]}"
    return json.dumps(detail, default=str)[:200]


def run_gate(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, limits: ValidationConfig
) -> GateResult:
    """Validate the accepted batch with Great Expectations and record every expectation's result."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx  # slow import (~4 s): only when a night reaches the gate
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("serosurv")
    frames = {"batch_metrics": batch_metrics(con, run_id), "accepted_claims": accepted_sample(con, run_id)}
    results: list[dict[str, Any]] = []
    for name, suite in _suites(gx, limits, as_of).items():
        if name == "accepted_claims" and frames[name].empty:
            continue  # an empty batch already fails rows_accepted; nothing to sample
        context.suites.add(suite)
        batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        validation = batch.get_batch(batch_parameters={"dataframe": frames[name]}).validate(suite)
        for item in validation.to_json_dict()["results"]:
            config = item["expectation_config"]
            column = config.get("kwargs", {}).get("column")
            results.append(
                {
                    "suite": name,
                    "expectation": config["type"] + (f"({column})" if column else ""),
                    "success": bool(item["success"]),
                    "observed": _observed(item),
                }
            )
    insert_frame(
        con,
        "dq_results",
        pl.DataFrame(
            [[run_id, r["suite"], r["expectation"], r["success"], r["observed"]] for r in results],
            schema=DQ_RESULT_SCHEMA,
            orient="row",
        ),
    )
    return GateResult(all(r["success"] for r in results), results)
