"""The runs table and what each run leaves beside it: which successful run last wrote the warehouse
(sql/analyses/latest_run.sql), recording a run and its attrition counts, and keeping a failed night's
quarantine across its rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from transforms.sql import copy_to, delete_rows, fetch_one, insert_frame
from transforms.sql import run as _run


def latest_success(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The latest successful run (run_id, as_of, finished_at, config_hash, rules_hash, parameters,
    engine_fingerprint), or None before the first night."""
    return fetch_one(con, "analyses/latest_run.sql")


def record_run(con: duckdb.DuckDBPyConnection, run: dict[str, Any], counts: dict[str, int]) -> None:
    """Write the run's row (replacing one of the same id) and its attrition counts, in step order.

    `run` has every runs column but finished_at (now); `counts` are the night's counts by measure."""
    delete_rows(con, "runs", run_id=run["run_id"])
    _run(con, "marts/runs__record.sql", run)
    delete_rows(con, "attrition", run_id=run["run_id"])
    steps = [
        (run["run_id"], step, measure, int(value)) for step, (measure, value) in enumerate(counts.items())
    ]
    schema = {"run_id": pl.String, "step": pl.Int32, "measure": pl.String, "value": pl.Int64}
    insert_frame(con, "attrition", pl.DataFrame(steps, schema=schema, orient="row"))


def save_quarantine(con: duckdb.DuckDBPyConnection, run_id: str, folder: Path) -> Path:
    """Before a failed night rolls back: its quarantined rows into a Parquet file in `folder`."""
    target = folder / f"quarantine-{run_id}.parquet"
    copy_to(con, "analyses/quarantine_of_run.sql", target, {"run_id": run_id})
    return target


def restore_quarantine(con: duckdb.DuckDBPyConnection, saved: Path) -> None:
    """After the rollback: the failed night's quarantine back, for `serosurv quarantine list`."""
    _run(con, "staging/stg_quarantine__restore.sql", {"path": str(saved)})
