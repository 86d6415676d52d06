"""Run the statements in sql/ with bound parameters.

Every statement the product runs lives in a file under sql/, one statement per file, lower-case keywords,
a `--` header saying what it builds or returns, its parameters (`$name`) and its inputs:

- `sql/staging/stg_*.sql`, `sql/intermediate/int_*.sql`: a SELECT named after the table it builds, with
  the layer's prefix (`int_cancelled_claims.sql` builds `cancelled_claims`; staging tables keep the
  prefix in their names: `stg_repeats.sql` builds `stg_repeats`; `stg_claims.sql` fills the contract
  table `claims`). An input adapter's mapping is staging too (`stg_<format>_claims.sql`).
- `sql/marts/<table>.sql`: a SELECT named exactly after the table it builds.
- `sql/analyses/<what_it_returns>.sql`: a statement that only reads (a night's counts, a check's, an
  API call's or a report's query).
- Statements that change a table in place (DELETE, UPDATE) sit next to the SELECT that builds the table,
  as `<layer>/<that file's name>__<verb>.sql`: `intermediate/int_episode_fills__drop_short.sql`,
  `staging/stg_claims__forget_night.sql`.
- `sql/macros/<macro>.sql`: one `create or replace temp macro` each, a definition shared by several
  statements (and by Python: `serosurv.core.drugnames.normalise_ndc` evaluates `normalise_ndc`); a
  step creates the macros it uses on its connection with `create_macros`.

Python names the file and binds the parameters; it never builds SQL text from values. The helpers below
add only the table names Python chooses (`create_table`, `insert_into`, ...) and, where DuckDB cannot take
a parameter (a COPY target, a path in a view), a literal escaped with `sql_literal`. Trivial one-liners
(a row count, whether a table exists, emptying a table) use `serosurv.core.warehouse.count_rows` /
`has_table` or the helpers here instead of a file. The few statements made of names only known at run
time (a file's own column names: the staging view `stg_raw`, an adapter's view of its source; the
warehouse's database name in an incremental night's scopes; a user's mapping file) are built in Python,
names quoted with `sql_identifier`. docs/design.md ("SQL") says the same for readers of the docs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


def sql_identifier(name: str) -> str:
    """A name (a database's, a table's, a file's column) as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


@cache
def sql_text(name: str) -> str:
    """The statement in sql/NAME (e.g. "intermediate/int_episodes.sql")."""
    return (data_dir("sql") / name).read_text(encoding="utf-8")


def statement(name: str, inputs: dict[str, str] | None = None) -> str:
    """The statement in sql/NAME; each of `inputs` (relation -> file) is defined by the SELECT in that
    file as a common table expression, for an input computed on the fly rather than stored first (not
    materialised: it streams into the statement as a subquery would)."""
    text = sql_text(name)
    if not inputs:
        return text
    ctes = ",\n".join(
        f"{relation} as not materialized (\n{sql_text(file)}\n)" for relation, file in inputs.items()
    )
    lines = text.splitlines(keepends=True)
    header = 0
    while header < len(lines) and (not lines[header].strip() or lines[header].lstrip().startswith("--")):
        header += 1
    body = "".join(lines[header:])
    if body[:4].lower() == "with" and body[4:5].isspace():  # the file's own CTEs follow the inputs
        return f"with {ctes},\n{body[5:]}"
    return f"with {ctes}\n{body}"


def create_macros(con: duckdb.DuckDBPyConnection, *macros: str) -> None:
    """Create the temp macros sql/macros/MACRO.sql on this connection (again: they are replaced)."""
    for macro in macros:
        con.execute(sql_text(f"macros/{macro}.sql"))


@contextmanager
def joins_as_written(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Each hash join of the statements run inside builds its table on the side written second (DuckDB's
    `build_side_probe_side` optimizer off), for a statement whose sides DuckDB misjudges; its previous
    `disabled_optimizers` afterwards."""
    (before,) = con.execute("select current_setting('disabled_optimizers')").fetchall()[0]
    con.execute(
        "set disabled_optimizers = $names",
        {"names": ",".join(filter(None, [before, "build_side_probe_side"]))},
    )
    try:
        yield
    finally:
        con.execute("set disabled_optimizers = $names", {"names": before})


def create_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    name: str,
    params: dict[str, Any] | None = None,
    temp: bool = False,
    inputs: dict[str, str] | None = None,
) -> None:
    """Replace `table` with the result of the SELECT in sql/NAME (a session-only table when `temp`);
    `inputs` as for `statement`."""
    kind = "temp table" if temp else "table"
    con.execute(f"create or replace {kind} {table} as {statement(name, inputs)}", params or {})


def insert_into(
    con: duckdb.DuckDBPyConnection,
    table: str,
    name: str,
    params: dict[str, Any] | None = None,
    inputs: dict[str, str] | None = None,
) -> int:
    """Append the result of the SELECT in sql/NAME to `table` (columns by name); returns the rows added.
    `inputs`: relations the SELECT reads that are defined by other files (see `statement`)."""
    (added,) = con.execute(f"insert into {table} by name {statement(name, inputs)}", params or {}).fetchone()
    return added


def replace_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    name: str,
    params: dict[str, Any] | None = None,
    key: str | None = None,
) -> int:
    """Empty the contract table `table` (keeping its declared schema) and fill it from sql/NAME; returns
    the rows added. With `key` (a column that is also a parameter, e.g. "run_id"), only the rows whose
    `key` is `params[key]` are replaced."""
    params = params or {}
    delete_rows(con, table, **({} if key is None else {key: params[key]}))
    return insert_into(con, table, name, params)


def delete_rows(con: duckdb.DuckDBPyConnection, table: str, **key: Any) -> None:
    """Delete the rows of the contract table `table` whose column has the value given (e.g. run_id=...);
    every row when no key is given."""
    if not key:
        con.execute(f"delete from {sql_identifier(table)}")
        return
    ((column, value),) = key.items()
    con.execute(
        f"delete from {sql_identifier(table)} where {sql_identifier(column)} = $value", {"value": value}
    )


def run(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None) -> None:
    """Run the statement in sql/NAME for its effect (an UPDATE, DELETE or INSERT)."""
    con.execute(sql_text(name), params or {})


def fetch(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: dict[str, Any] | None = None,
    inputs: dict[str, str] | None = None,
) -> list[tuple]:
    """The rows of the query in sql/NAME; `inputs` as for `statement`."""
    return con.execute(statement(name, inputs), params or {}).fetchall()


def fetch_value(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: dict[str, Any] | None = None,
    inputs: dict[str, str] | None = None,
) -> Any:
    """The first column of the first row of the query in sql/NAME (None when it has no row)."""
    found = fetch(con, name, params, inputs)
    return found[0][0] if found else None


def fetch_one(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: dict[str, Any] | None = None,
    inputs: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """The first row of the query in sql/NAME as a dict of column -> value (None when it has none);
    `inputs` as for `statement`."""
    records = fetch_dicts(con, name, params, inputs)
    return records[0] if records else None


def fetch_dicts(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: dict[str, Any] | None = None,
    inputs: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The rows of the query in sql/NAME as dicts of column -> value; `inputs` as for `statement`."""
    cursor = con.execute(statement(name, inputs), params or {})
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def table_dicts(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    """Every row of `table` (a session or contract table whose name Python chose, never user text) as dicts
    of column -> value."""
    cursor = con.execute(f"select * from {table}")
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def fetch_frame(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: dict[str, Any] | None = None,
    inputs: dict[str, str] | None = None,
) -> pl.DataFrame:
    """The result of the query in sql/NAME as a Polars DataFrame; `inputs` as for `statement`."""
    return con.sql(statement(name, inputs), params=params or {}).pl()


def copy_to(
    con: duckdb.DuckDBPyConnection,
    name: str,
    target: Path | str,
    params: dict[str, Any] | None = None,
    options: str = "format parquet",
    inputs: dict[str, str] | None = None,
) -> None:
    """Write the result of the query in sql/NAME to the file (or, partitioned, folder) `target`.
    `options` are COPY options chosen by the caller, never values from data; `inputs` as for
    `statement`."""
    con.execute(
        f"copy (\n{statement(name, inputs)}\n) to {sql_literal(str(target))} ({options})", params or {}
    )


def copy_table(con: duckdb.DuckDBPyConnection, table: str, target: Path | str) -> None:
    """Write `table` to the Parquet file `target`."""
    con.execute(f"copy {table} to {sql_literal(str(target))} (format parquet)")


def table_from_frame(
    con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, temp: bool = True
) -> None:
    """Replace `table` with the rows of a Polars DataFrame (its columns and types)."""
    view = f"{table}__rows"
    con.register(view, frame)
    try:
        kind = "temp table" if temp else "table"
        con.execute(f"create or replace {kind} {table} as select * from {view}")
    finally:
        con.unregister(view)


def table_from_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    schema: dict[str, Any],
    rows: list[list[Any]] | list[tuple[Any, ...]],
    temp: bool = True,
) -> None:
    """Replace `table` with Python rows (lists in the order of `schema`, column -> Polars type)."""
    table_from_frame(con, table, pl.DataFrame(rows, schema=schema, orient="row"), temp)


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Append the rows of a Polars DataFrame to `table` (columns by name)."""
    view = f"{table}__rows"
    con.register(view, frame)
    try:
        con.execute(f"insert into {table} by name select * from {view}")
    finally:
        con.unregister(view)


def drop_tables(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    """Drop session tables a step no longer needs (those that exist)."""
    for table in tables:
        con.execute(f"drop table if exists {table}")


def drop_views(con: duckdb.DuckDBPyConnection, *views: str) -> None:
    """Drop session views a step no longer needs (those that exist)."""
    for view in views:
        con.execute(f"drop view if exists {view}")
