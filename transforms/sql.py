"""Run the SQL files in sql/ with bound parameters."""

from __future__ import annotations

from functools import cache
from typing import Any

import duckdb

from serosurv.core.resources import data_dir


def sql_literal(text: str) -> str:
    """A string as a SQL literal, for statements that cannot take parameters (views, COPY targets)."""
    return "'" + text.replace("'", "''") + "'"


@cache
def sql_text(name: str) -> str:
    """The statement in sql/NAME (e.g. "intermediate/int_episodes.sql")."""
    return (data_dir("sql") / name).read_text(encoding="utf-8")


def create_table(
    con: duckdb.DuckDBPyConnection, table: str, name: str, params: dict[str, Any] | None = None
) -> None:
    """Replace `table` with the result of the SELECT in sql/NAME."""
    con.execute(f"CREATE OR REPLACE TABLE {table} AS {sql_text(name)}", params or {})


def insert_into(
    con: duckdb.DuckDBPyConnection, table: str, name: str, params: dict[str, Any] | None = None
) -> None:
    """Append the result of the SELECT in sql/NAME to `table` (columns by name)."""
    con.execute(f"INSERT INTO {table} BY NAME {sql_text(name)}", params or {})
