"""The runs table and what each run leaves beside it: which successful run last wrote the warehouse
(sql/analyses/latest_run.sql), and recording a run, its attrition counts and its gate results."""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from transforms.sql import fetch_one, insert_frame
from transforms.sql import run as _run


def latest_success(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The latest successful run (run_id, as_of, finished_at, config_hash, rules_hash, parameters,
    engine_fingerprint), or None before the first night."""
    return fetch_one(con, "analyses/latest_run.sql")


def record_run(con: duckdb.DuckDBPyConnection, run: dict[str, Any], counts: dict[str, int]) -> None:
    """Write the run's row (replacing one of the same id) and its attrition counts, in step order.

    `run` has every runs column but finished_at (now); `counts` are the night's counts by measure."""
    con.execute("delete from runs where run_id = $run_id", {"run_id": run["run_id"]})
    _run(con, "marts/runs__record.sql", run)
    con.execute("delete from attrition where run_id = $run_id", {"run_id": run["run_id"]})
    steps = [
        (run["run_id"], step, measure, int(value)) for step, (measure, value) in enumerate(counts.items())
    ]
    schema = {"run_id": pl.String, "step": pl.Int32, "measure": pl.String, "value": pl.Int64}
    insert_frame(con, "attrition", pl.DataFrame(steps, schema=schema, orient="row"))


def record_gate_results(con: duckdb.DuckDBPyConnection, run_id: str, results: list[dict[str, Any]]) -> None:
    """Keep the quality gate's result per expectation (suite, expectation, success, observed)."""
    schema = {"suite": pl.String, "expectation": pl.String, "success": pl.Boolean, "observed": pl.String}
    frame = pl.DataFrame([{k: r[k] for k in schema} for r in results], schema=schema)
    insert_frame(con, "dq_results", frame.with_columns(run_id=pl.lit(run_id)))
