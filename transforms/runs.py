"""The runs table: which successful run last wrote the warehouse (sql/analyses/latest_run.sql)."""

from __future__ import annotations

from typing import Any

import duckdb

from transforms.sql import fetch_one


def latest_success(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The latest successful run (run_id, as_of, finished_at, config_hash, rules_hash, parameters,
    engine_fingerprint), or None before the first night."""
    return fetch_one(con, "analyses/latest_run.sql")
