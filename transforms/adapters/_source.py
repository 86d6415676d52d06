"""Shared plumbing for the input adapters: read a source table as text with its own row numbers, find
its columns case-insensitively, and write canonical Parquet with lineage (PRODUCT.md §2.1).

All work is set-based in DuckDB (CSV is first streamed to Parquet by Polars, which keeps file order so
row numbers are the file's): no Python runs per row.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path

import duckdb
import polars as pl

from serosurv.core.errors import SerosurvError, header_note
from serosurv.core.warehouse import CANONICAL_COLUMNS

CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz", ".tsv", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
ROW = "__row"
PATIENT_COLUMNS = ("patient_id", "birth_year", "sex", "coverage_start", "coverage_end")
_views = itertools.count(1)


def is_table_file(path: Path) -> bool:
    return path.name.lower().endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Source:
    """One source table as a DuckDB view of text columns plus `__row` (1-based data row in the file)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, what: str,
                 delimiter: str | None = None) -> None:  # fmt: skip
        self.con = con
        self.path = Path(path)
        self.what = what  # e.g. "MIMIC-IV prescriptions", used in error messages
        if not self.path.is_file():
            raise SerosurvError(f"{what} file {self.path} does not exist.")
        self.view = f"src_{next(_views)}"
        name = self.path.name.lower()
        if name.endswith(PARQUET_SUFFIXES):
            parquet, row = self.path, "file_row_number + 1"
        elif name.endswith(CSV_SUFFIXES):
            parquet, row = self._csv_to_parquet(workdir, delimiter), ROW
        else:
            raise SerosurvError(
                f"{self.path}: unknown file type; {what} must be CSV (.csv, .tsv, optionally .gz) or Parquet."
            )
        try:
            described = con.execute("DESCRIBE SELECT * FROM read_parquet($p)", {"p": str(parquet)}).fetchall()
        except duckdb.Error as exc:
            raise SerosurvError(f"{self.path}: cannot be read ({str(exc).splitlines()[0]}).") from None
        self.original = [c for c, *_ in described if c not in (ROW, "file_row_number")]
        self.columns = {c.strip().lower(): c for c in self.original}
        select = ", ".join(f"CAST({quote(c)} AS VARCHAR) AS {quote(c)}" for c in self.original)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {self.view} AS SELECT {row} AS {ROW}, {select} "
            f"FROM read_parquet({literal(str(parquet))}, file_row_number = true)"
        )

    def _csv_to_parquet(self, workdir: Path, delimiter: str | None) -> Path:
        separator = delimiter or ("\t" if ".tsv" in self.path.name.lower() else ",")
        target = workdir / f"{self.view}_{self.path.name.replace('.', '_')}.parquet"
        try:
            frame = pl.scan_csv(self.path, separator=separator, infer_schema=False, encoding="utf8-lossy",
                                truncate_ragged_lines=True)  # fmt: skip
            frame = frame.rename({c: c.strip().lstrip("\ufeff") for c in frame.collect_schema().names()})
            frame.with_row_index(ROW, offset=1).sink_parquet(target)
        except pl.exceptions.NoDataError:
            raise SerosurvError(f"{self.path}: the file is empty (no header row).") from None
        except (pl.exceptions.ComputeError, OSError) as exc:
            raise SerosurvError(f"{self.path}: cannot be read as CSV ({str(exc).splitlines()[0]}).") from None
        return target

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

    def col(self, *names: str) -> str:
        """Trimmed text of the first present column (empty = NULL), or NULL when none is present."""
        name = self.first(*names)
        if name is None:
            return "NULL::VARCHAR"
        return f"nullif(trim({quote(self.columns[name.lower()])}), '')"

    def raw(self) -> str:
        """The original row as JSON, original column names."""
        return "to_json(struct_pack(" + ", ".join(f"{quote(c)} := {quote(c)}" for c in self.original) + "))"


# ---------------------------------------------------------------------- SQL expression helpers


def iso_date(expr: str, formats: Iterable[str] = ()) -> str:
    """Date or timestamp text -> 'YYYY-MM-DD'; text no format reads is kept as is (validation quarantines
    it with a reason naming the value)."""
    parsed = [f"try_strptime({expr}, {literal(f)})::DATE" for f in formats]
    parsed.append(f"try_cast({expr} AS TIMESTAMP)::DATE")
    return f"coalesce(strftime(coalesce({', '.join(parsed)}), '%Y-%m-%d'), {expr})"


def derived_id(prefix: str, parts: list[str]) -> str:
    """A claim id for sources without one: a hash of the row's identifying fields plus the occurrence
    number among identical rows (in file order), so rereading the same data gives the same ids."""
    key = "concat_ws('|', " + ", ".join(f"coalesce({p}, '')" for p in parts) + ")"
    return (
        f"{literal(prefix)} || substr(md5({key}), 1, 16) || '-' || "
        f"row_number() OVER (PARTITION BY {key} ORDER BY {ROW})::VARCHAR"
    )


def write_claims(con: duckdb.DuckDBPyConnection, source: Source, fields: dict[str, str], target: Path,
                 reject_code: str = "NULL", reject_reason: str = "NULL", joins: str = "") -> Path:  # fmt: skip
    """Write one canonical claims Parquet: every canonical column as text, plus lineage and pre-rejects.

    `fields` maps canonical column -> SQL expression over the source view (aliased `s`); canonical
    columns not given are NULL. `joins` may join lookup tables to `s`.
    """
    unknown = set(fields) - set(CANONICAL_COLUMNS)
    if unknown:
        raise ValueError(f"not canonical columns: {sorted(unknown)}")
    select = ", ".join(
        f"CAST({fields[c]} AS VARCHAR) AS {c}" if c in fields else f"NULL::VARCHAR AS {c}"
        for c in CANONICAL_COLUMNS
    )
    sql = (
        f"SELECT {select}, {literal(str(source.path.resolve()))} AS source_file, s.{ROW}::BIGINT AS source_row, "
        f"CAST({source.raw()} AS VARCHAR) AS raw, CAST({reject_code} AS VARCHAR) AS reject_code, "
        f"CAST({reject_reason} AS VARCHAR) AS reject_reason "
        f"FROM {source.view} AS s {joins} ORDER BY s.{ROW}"
    )
    con.execute(f"COPY ({sql}) TO {literal(str(target))} (FORMAT parquet)")
    return target


def write_patients(con: duckdb.DuckDBPyConnection, sql: str, target: Path) -> Path:
    """Write the canonical patients Parquet from a query with the PATIENT_COLUMNS (one row per patient)."""
    typed = (
        "SELECT CAST(patient_id AS VARCHAR) AS patient_id, TRY_CAST(birth_year AS INTEGER) AS birth_year, "
        "CAST(sex AS VARCHAR) AS sex, TRY_CAST(coverage_start AS DATE) AS coverage_start, "
        f"TRY_CAST(coverage_end AS DATE) AS coverage_end FROM ({sql}) WHERE patient_id IS NOT NULL "
        "ORDER BY patient_id"
    )
    con.execute(f"COPY ({typed}) TO {literal(str(target))} (FORMAT parquet)")
    return target


def output_name(workdir: Path, fmt: str, path: Path, suffix: str = "") -> Path:
    """A readable, unique name for an adapted file (runs.input_files shows it)."""
    stem = path.name.split(".")[0]
    for n in itertools.count(1):
        target = workdir / f"{fmt}-{stem}{suffix}{'' if n == 1 else f'-{n}'}.parquet"
        if not target.exists():
            return target
    raise AssertionError("unreachable")
