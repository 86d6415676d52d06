"""Opening the warehouse for the API's commands, and `query`: read-only SQL for users without a DuckDB client.

Every command waits while another process holds the warehouse (a night writing it, a DuckDB client or
another command reading it), for `[warehouse] busy_timeout` / $SEROSURV_BUSY_TIMEOUT (serosurv.core.lock).
Readers hold the file only while they read: they read what they need into memory and close it before
formatting, rendering or writing anything, because an open reader keeps a night from starting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from serosurv.core.config import busy_wait, warehouse_path
from serosurv.core.errors import SerosurvError
from serosurv.core.warehouse import open_existing


def resolve(warehouse: Path | str | None) -> Path:
    """The warehouse a command works on (serosurv.core.config.warehouse_path)."""
    return warehouse_path(warehouse)


@contextmanager
def reading(warehouse: Path | str | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection, held only while the block runs: DuckDB keeps a night from opening the
    file while any other process has it open, so read into memory inside the block and do the rest
    (formatting, rendering, writing files) after it."""
    con = open_existing(resolve(warehouse), read_only=True, wait=busy_wait())
    try:
        yield con
    finally:
        con.close()


@contextmanager
def writing(warehouse: Path | str | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to an existing warehouse (callers take the warehouse lock first)."""
    con = open_existing(resolve(warehouse), wait=busy_wait())
    try:
        yield con
    finally:
        con.close()


def query(sql: str, warehouse: Path | str | None = None) -> pl.DataFrame:
    """The result of one read-only SQL statement on the warehouse, e.g.
    `query("select * from alerts order by priority desc limit 10")`. Statements that write (to the warehouse
    or to any file) are refused; `serosurv query --format csv` writes the result where you redirect it."""
    if not sql or not sql.strip():
        raise SerosurvError('Give the SQL to run, e.g. serosurv query "select count(*) from claims".')
    with reading(warehouse) as con:
        # Read-only means nothing is written anywhere: no COPY to a file, no ATTACH, no other file read.
        con.execute("set enable_external_access = false")
        try:
            return con.sql(sql).pl()  # in memory: the file is closed before the CLI formats it
        except AttributeError:  # a statement that returns no rows (a PRAGMA, SET)
            return pl.DataFrame()
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            raise SerosurvError(f"The query failed: {first} (the warehouse is opened read-only).") from None
