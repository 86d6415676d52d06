"""Shared plumbing for the input adapters: read a source table as text with its own row numbers, find
its columns case-insensitively, and write canonical Parquet with lineage (PRODUCT.md §2.1).

Each source table becomes a view of the columns an adapter reads, under fixed lower-case names
(`Source.named_view`: made here, from the file's own column names, which no statement can know); the
mapping itself is a statement in sql/staging/stg_<format>_{claims,patients}.sql over those views, wrapped
by sql/staging/stg_adapted_{claims,patients}.sql and written with COPY.

All work is set-based in DuckDB (CSV is first streamed to Parquet by Polars, which keeps file order so
row numbers are the file's): no Python runs per row.
"""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from serosurv.core.errors import SerosurvError, header_note
from transforms.sql import copy_to, fetch, sql_identifier, sql_literal

CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz", ".tsv", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
ROW = "__row"
PATIENT_COLUMNS = ("patient_id", "birth_year", "sex", "coverage_start", "coverage_end")
_views = itertools.count(1)


def is_table_file(path: Path) -> bool:
    return path.name.lower().endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)


quote, literal = sql_identifier, sql_literal
DELIMITERS = (",", "\t", "|", ";")  # in this order when a header has as many of two


def sniff_delimiter(path: Path) -> str:
    """The delimiter of a text table, from its header line: whichever of comma, tab, pipe (CMS RIF files,
    whatever their extension) and semicolon it holds most; a comma when it holds none (one column)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as handle:
            header = handle.readline()
    except (OSError, EOFError) as exc:
        raise SerosurvError(f"{path}: cannot be read ({exc}).") from None
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first of equals
    return best if counts[best] else ","


def _csv_scan(path: Path, separator: str) -> pl.LazyFrame:
    """A text table as text columns, as every adapter reads it (a ragged line is cut, not refused)."""
    return pl.scan_csv(
        path, separator=separator, infer_schema=False, encoding="utf8-lossy", truncate_ragged_lines=True
    )


def _clean_name(name: str) -> str:
    return name.strip().lstrip("\ufeff")


class Header:
    """A source table's column names, from the start of its file alone (a CSV's header line, a Parquet
    file's schema): what a night can check before it starts (`transforms.adapters.check_inputs`), with the
    same sentences as `Source`, which reads the whole table."""

    def __init__(self, path: Path, what: str, delimiter: str | None = None) -> None:
        self.path = Path(path)
        self.what = what  # e.g. "MIMIC-IV prescriptions", used in error messages
        if self._kind() == "csv":
            separator = delimiter or sniff_delimiter(self.path)
            with self._csv_errors():
                names = _csv_scan(self.path, separator).collect_schema().names()
            self._name_columns([_clean_name(n) for n in names])
        else:
            with duckdb.connect() as con:
                self._name_columns(self._described(con, self.path))

    def _kind(self) -> str:
        if not self.path.is_file():
            raise SerosurvError(f"{self.what} file {self.path} does not exist.")
        name = self.path.name.lower()
        if name.endswith(PARQUET_SUFFIXES):
            return "parquet"
        if name.endswith(CSV_SUFFIXES):
            return "csv"
        raise SerosurvError(
            f"{self.path}: unknown file type; {self.what} must be CSV (.csv, .tsv, optionally .gz) or Parquet."
        )

    @contextmanager
    def _csv_errors(self) -> Iterator[None]:
        try:
            yield
        except pl.exceptions.NoDataError:
            raise SerosurvError(f"{self.path}: the file is empty (no header row).") from None
        except (pl.exceptions.ComputeError, OSError) as exc:
            raise SerosurvError(f"{self.path}: cannot be read as CSV ({str(exc).splitlines()[0]}).") from None

    def _described(self, con: duckdb.DuckDBPyConnection, parquet: Path) -> list[str]:
        try:
            described = fetch(con, "analyses/parquet_columns.sql", {"p": str(parquet)})
        except duckdb.Error as exc:
            raise SerosurvError(f"{self.path}: cannot be read ({str(exc).splitlines()[0]}).") from None
        return [c for c, *_ in described if c not in (ROW, "file_row_number")]

    def _name_columns(self, original: list[str]) -> None:
        self.original = original
        self.columns = {c.strip().lower(): c for c in original}

    # ------------------------------------------------------------------ columns

    def has(self, name: str) -> bool:
        return name.lower() in self.columns

    def first(self, *names: str) -> str | None:
        """The first of these column names present in the file (case-insensitive), or None."""
        return next((n for n in names if self.has(n)), None)

    def require(self, *names: str) -> None:
        """Each argument is a column name or alternatives separated by '|'."""
        for spec in names:
            options = spec.split("|")
            if self.first(*options) is None:
                wanted = " or ".join(f"'{o}'" for o in options)
                raise SerosurvError(
                    f"{self.path}: required column {wanted} of the {self.what} layout is missing "
                    f"({header_note(self.original)})."
                )


class Source(Header):
    """One source table as a DuckDB view of text columns plus `__row` (1-based data row in the file)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        workdir: Path,
        what: str,
        delimiter: str | None = None,
    ) -> None:
        self.con = con
        self.path = Path(path)
        self.what = what
        self.view = f"src_{next(_views)}"
        if self._kind() == "parquet":
            parquet, row = self.path, "file_row_number + 1"
        else:
            parquet, row = self._csv_to_parquet(workdir, delimiter), ROW
        self._name_columns(self._described(con, parquet))
        select = ", ".join(f"cast({quote(c)} as varchar) as {quote(c)}" for c in self.original)
        con.execute(
            f"create or replace temp view {self.view} as select {row} as {ROW}, {select} "
            f"from read_parquet({literal(str(parquet))}, file_row_number = true)"
        )

    def _csv_to_parquet(self, workdir: Path, delimiter: str | None) -> Path:
        separator = delimiter or sniff_delimiter(self.path)
        target = workdir / f"{self.view}_{self.path.name.replace('.', '_')}.parquet"
        with self._csv_errors():
            frame = _csv_scan(self.path, separator)
            frame = frame.rename({c: _clean_name(c) for c in frame.collect_schema().names()})
            frame.with_row_index(ROW, offset=1).sink_parquet(target)
        return target

    def col(self, *names: str) -> str:
        """Trimmed text of the first present column (empty = NULL), or NULL when none is present."""
        name = self.first(*names)
        if name is None:
            return "null::varchar"
        return f"nullif(trim({quote(self.columns[name.lower()])}), '')"

    def raw(self) -> str:
        """The original row as JSON, original column names."""
        return "to_json(struct_pack(" + ", ".join(f"{quote(c)} := {quote(c)}" for c in self.original) + "))"

    def named_view(self, name: str, columns: Iterable[str]) -> None:
        """A temp view `name` of the source for the adapters' statements in sql/: `__row` (the 1-based
        data row), `raw` (the row as JSON) and each of `columns` ('A|B': the first of A, B the file has,
        named after A in lower case) as trimmed text (empty = NULL), NULL when the file has none."""
        select = ", ".join(
            f"{self.col(*spec.split('|'))} as {quote(spec.split('|')[0].lower())}" for spec in columns
        )
        self.con.execute(
            f"create or replace temp view {name} as select {ROW}, {self.raw()} as raw, {select} from {self.view}"
        )


# ---------------------------------------------------------------------- the adapters' SQL


def empty_view(con: duckdb.DuckDBPyConnection, name: str, columns: Iterable[str]) -> None:
    """A temp view `name` with no rows and the text `columns` (for an optional table the source lacks)."""
    select = ", ".join(f"null::varchar as {quote(c.split('|')[0].lower())}" for c in columns)
    con.execute(f"create or replace temp view {name} as select {select} where false")


def write_claims(
    con: duckdb.DuckDBPyConnection,
    source: Source | Path,
    name: str | None,
    target: Path,
    params: dict[str, Any] | None = None,
) -> Path:
    """Write one canonical claims Parquet from the adapter's SELECT in sql/NAME (over the source's
    named views; None: the adapter made the view `adapted_claims` itself): every canonical column as
    text, plus lineage and pre-rejects (sql/staging/stg_adapted_claims.sql). `source` is the source
    table, or the path of the source file (its full path is the parameter $source_file)."""
    path = source.path if isinstance(source, Source) else source
    copy_to(
        con,
        "staging/stg_adapted_claims.sql",
        target,
        {"source_file": str(path.resolve()), **(params or {})},
        inputs={"adapted_claims": name} if name else None,
    )
    return target


def write_patients(con: duckdb.DuckDBPyConnection, name: str, target: Path) -> Path:
    """Write the canonical patients Parquet from the adapter's SELECT in sql/NAME, which has the
    PATIENT_COLUMNS (one row per patient; sql/staging/stg_adapted_patients.sql)."""
    copy_to(con, "staging/stg_adapted_patients.sql", target, inputs={"adapted_patients": name})
    return target


def output_name(workdir: Path, fmt: str, path: Path, suffix: str = "") -> Path:
    """A readable, unique name for an adapted file (runs.input_files shows it)."""
    stem = path.name.split(".")[0]
    for n in itertools.count(1):
        target = workdir / f"{fmt}-{stem}{suffix}{'' if n == 1 else f'-{n}'}.parquet"
        if not target.exists():
            return target
    raise AssertionError("unreachable")
