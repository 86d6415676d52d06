"""Ingest: read claims files (CSV, Parquet, gzip) into the staging table `stg_raw`, as text, with lineage.

Everything is read as text so that a malformed value becomes a quarantined row with a reason, never a
failed read. Lineage: the file name and the 1-based data row number (the header is not counted).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import polars as pl

from serosurv.errors import SerosurvError
from serosurv.warehouse import CANONICAL_COLUMNS

REQUIRED = ("claim_id", "patient_id", "fill_date")
ONE_OF = (("days_supply", "end_date"), ("ndc", "rxcui", "drug_name"))
CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz", ".tsv", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")


def file_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise SerosurvError(
        f"{path}: unknown file type; claims files must be CSV (.csv, .tsv, optionally .gz) or Parquet (.parquet)."
    )


def check_columns(path: Path, columns: list[str]) -> None:
    present = set(columns)
    for column in REQUIRED:
        if column not in present:
            raise SerosurvError(
                f"{path}: required column '{column}' is missing (found: {', '.join(columns) or 'none'})."
            )
    for group in ONE_OF:
        if not present.intersection(group):
            raise SerosurvError(
                f"{path}: needs at least one of the columns {', '.join(group)}; none was found."
            )


def _csv_to_parquet(path: Path, workdir: Path) -> Path:
    """Stream a CSV into a text-only Parquet file with its row numbers (Polars keeps file order)."""
    separator = "\t" if ".tsv" in path.name.lower() else ","
    target = workdir / (path.name.replace(".", "_") + ".parquet")
    try:
        frame = pl.scan_csv(
            path, separator=separator, infer_schema=False, encoding="utf8-lossy", truncate_ragged_lines=True
        )
        frame = frame.rename({c: c.strip().lstrip("\ufeff").lower() for c in frame.collect_schema().names()})
        frame.with_row_index("__row", offset=1).sink_parquet(target)
    except pl.exceptions.NoDataError:
        raise SerosurvError(f"{path}: the file is empty (no header row).") from None
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise SerosurvError(f"{path}: cannot be read as CSV ({str(exc).splitlines()[0]}).") from None
    return target


def _parquet_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    try:
        described = con.execute("DESCRIBE SELECT * FROM read_parquet($p)", {"p": str(path)}).fetchall()
    except duckdb.Error as exc:
        raise SerosurvError(f"{path}: cannot be read as Parquet ({str(exc).splitlines()[0]}).") from None
    return [name for name, *_ in described]


def _lineage(lowered: dict[str, str], row_expr: str) -> str:
    """Lineage; an adapter's output (transforms/adapters) carries the source's own lineage
    (source_file, source_row, raw) and may pre-reject rows (reject_code, reject_reason)."""
    # Without an adapter's raw text, the quarantine keeps the canonical fields as read (built in
    # sql/staging/stg_claims.sql only for quarantined rows: JSON for every row is slow and large).
    raw = "NULL::VARCHAR"

    def given(name: str, default: str, sql_type: str = "VARCHAR") -> str:
        return f'CAST("{lowered[name]}" AS {sql_type})' if name in lowered else default

    return ", ".join(
        (
            given("source_file", "$file") + " AS source_file",
            given("source_row", row_expr, "BIGINT") + " AS source_row",
            given("raw", raw) + " AS raw",
            given("reject_code", "NULL::VARCHAR") + " AS reject_code",
            given("reject_reason", "NULL::VARCHAR") + " AS reject_reason",
        )
    )


def stage_claims(con: duckdb.DuckDBPyConnection, paths: list[Path]) -> int:
    """(Re)create `stg_raw` from the claims files; returns the number of rows read."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stg_raw ("
        + ", ".join(f"{c} VARCHAR" for c in CANONICAL_COLUMNS)
        + ", source_file VARCHAR, source_row BIGINT, raw VARCHAR, reject_code VARCHAR, reject_reason VARCHAR)"
    )
    with tempfile.TemporaryDirectory(prefix="serosurv-ingest-") as tmp:
        for path in paths:
            path = Path(path)
            if not path.is_file():
                raise SerosurvError(f"Claims file {path} does not exist.")
            if file_kind(path) == "csv":
                parquet, row_expr = _csv_to_parquet(path, Path(tmp)), "__row"
            else:
                parquet, row_expr = path, "file_row_number + 1"
            columns = [c for c in _parquet_columns(con, parquet) if c != "__row"]
            lowered = {c.lower(): c for c in columns}
            check_columns(path, list(lowered))
            selected = ", ".join(
                f'CAST("{lowered[c]}" AS VARCHAR) AS {c}' if c in lowered else f"NULL::VARCHAR AS {c}"
                for c in CANONICAL_COLUMNS
            )
            lineage = _lineage(lowered, row_expr)
            params = {"p": str(parquet)} | ({"file": str(path)} if "$file" in lineage else {})
            con.execute(
                f"INSERT INTO stg_raw SELECT {selected}, {lineage} FROM read_parquet($p, file_row_number = true)",
                params,
            )
    return con.execute("SELECT count(*) FROM stg_raw").fetchall()[0][0]


def load_patients(con: duckdb.DuckDBPyConnection, path: Path, run_id: str) -> int:
    """The optional patient table (demographics and coverage); each run that provides one replaces it."""
    path = Path(path)
    if not path.is_file():
        raise SerosurvError(f"Patients file {path} does not exist.")
    reader = (
        "read_parquet($p)"
        if file_kind(path) == "parquet"
        else "read_csv($p, header = true, all_varchar = true)"
    )
    columns = [
        row[0].lower() for row in con.execute(f"DESCRIBE SELECT * FROM {reader}", {"p": str(path)}).fetchall()
    ]
    if "patient_id" not in columns:
        raise SerosurvError(f"{path}: required column 'patient_id' is missing (found: {', '.join(columns)}).")

    def column(name: str, sql_type: str) -> str:
        return f"TRY_CAST({name} AS {sql_type})" if name in columns else f"NULL::{sql_type}"

    con.execute("DELETE FROM patients")
    con.execute(
        "INSERT INTO patients BY NAME SELECT CAST(patient_id AS VARCHAR) AS patient_id, "
        f"{column('birth_year', 'INTEGER')} AS birth_year, {column('sex', 'VARCHAR')} AS sex, "
        f"{column('coverage_start', 'DATE')} AS coverage_start, {column('coverage_end', 'DATE')} AS coverage_end, "
        f"$run_id AS run_id FROM {reader}",
        {"p": str(path), "run_id": run_id},
    )
    return con.execute("SELECT count(*) FROM patients").fetchall()[0][0]
