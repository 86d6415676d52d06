"""The runs table: which successful run last wrote the warehouse (sql/marts/latest_run.sql)."""

from __future__ import annotations

from typing import Any

import duckdb

from transforms.sql import sql_text


def latest_success(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The latest successful run (run_id, as_of, finished_at, config_hash, rules_hash, parameters,
    engine_fingerprint), or None before the first night."""
    cursor = con.execute(sql_text("marts/latest_run.sql"))
    names = [d[0] for d in cursor.description]
    found = cursor.fetchall()
    return dict(zip(names, found[0], strict=True)) if found else None
