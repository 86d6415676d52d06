"""Run the statements in sql/ with bound parameters.

Every statement the product runs lives in a file under sql/, in its dbt layer (staging, intermediate,
marts) and named after the table it builds, or under sql/analyses/ when it only reads (a report's or an
API call's query). Python names the file and binds the parameters; it never builds SQL text from values.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from serosurv.core.resources import data_dir


def sql_literal(text: str) -> str:
    """A string as a SQL literal, for the few statements that cannot take parameters (COPY targets,
    view definitions, table functions over file lists)."""
    return "'" + text.replace("'", "''") + "'"


@cache
def sql_text(name: str) -> str:
    """The statement in sql/NAME (e.g. "intermediate/int_episodes.sql")."""
    return (data_dir("sql") / name).read_text(encoding="utf-8")


def create_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    name: str,
    params: dict[str, Any] | None = None,
    temp: bool = False,
) -> None:
    """Replace `table` with the result of the SELECT in sql/NAME (a session-only table when `temp`)."""
    kind = "TEMP TABLE" if temp else "TABLE"
    con.execute(f"create or replace {kind} {table} as {sql_text(name)}", params or {})


def insert_into(
    con: duckdb.DuckDBPyConnection, table: str, name: str, params: dict[str, Any] | None = None
) -> None:
    """Append the result of the SELECT in sql/NAME to `table` (columns by name)."""
    con.execute(f"insert into {table} by name {sql_text(name)}", params or {})


def replace_rows(
    con: duckdb.DuckDBPyConnection, table: str, name: str, params: dict[str, Any] | None = None
) -> None:
    """Empty the contract table `table` (keeping its declared schema) and fill it from sql/NAME."""
    con.execute(f"delete from {table}")
    insert_into(con, table, name, params)


def run(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None) -> None:
    """Run the statement in sql/NAME for its effect (an UPDATE, DELETE or INSERT)."""
    con.execute(sql_text(name), params or {})


def fetch(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None) -> list[tuple]:
    """The rows of the query in sql/NAME."""
    return con.execute(sql_text(name), params or {}).fetchall()


def fetch_one(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The first row of the query in sql/NAME as a dict of column -> value (None when it has none)."""
    records = fetch_dicts(con, name, params)
    return records[0] if records else None


def fetch_dicts(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The rows of the query in sql/NAME as dicts of column -> value."""
    cursor = con.execute(sql_text(name), params or {})
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def fetch_frame(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None
) -> pl.DataFrame:
    """The result of the query in sql/NAME as a Polars DataFrame."""
    return con.sql(sql_text(name), params=params or {}).pl()


COPY_FORMATS = {"csv": "format csv, header true", "parquet": "format parquet"}


def copy_to(con: duckdb.DuckDBPyConnection, name: str, target: Path | str, fmt: str) -> None:
    """Write the result of the query in sql/NAME to the file `target` as "csv" (with a header) or
    "parquet", by DuckDB (no rows pass through Python). The file name is the one literal COPY needs."""
    con.execute(f"copy ({sql_text(name)}) to {sql_literal(str(target))} ({COPY_FORMATS[fmt]})")


def drop_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop `table` (a working table a caller staged, e.g. with `create_table(..., temp=True)`) if it exists."""
    con.execute(f"drop table if exists {table}")
