"""Row-level validation: every staged row is accepted into `claims` or moved to `quarantine` with a reason.

It reads the staging view `stg_raw` (transforms/ingest), which streams from the input files: first the
batch-wide facts (`stg_repeats`, `stg_loaded`: repeated claim ids and ids earlier nights loaded, both
small), then the row checks of sql/staging/stg_checked.sql into a typed copy (`stg_checked`; a row's raw
text only when it is quarantined), which two inserts split (stg_claims.sql, stg_quarantine.sql). A batch
larger than half the memory limit is checked in slices of rows that fit (rows first..last of every file,
which DuckDB reads without the rest of a Parquet file), so that it never spills: a copy of 100M claims
wrote 35 GB of temporary files, and checking them twice, streaming, instead took 244 s of a 452 s night.
Every slice sees the same batch-wide facts, so a row lands in exactly one of the two tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from serosurv.core.config import SourceConfig
from serosurv.core.warehouse import count_rows, memory_limit_bytes
from transforms import ingest
from transforms.sql import create_macros, create_table, drop_tables, fetch, insert_into, run

BATCH_TABLES = ("stg_repeats", "stg_loaded")
STAGING_TABLES = (*BATCH_TABLES, "stg_checked")
CHECKED_ROW_BYTES = 200  # a checked row held in memory (measured: 10M rows, 2 GB)


@dataclass(frozen=True)
class ValidationCounts:
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    reasons: dict[str, int]


def forget_night(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Rerunning a night replaces what earlier runs of the same night loaded."""
    for table in ("claims", "quarantine", "patients"):
        run(con, f"staging/stg_{table}__forget_night.sql", {"as_of": as_of})


def check_claims(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    earliest: str,
    unknown_ids: tuple[str, ...] = (),
    *,
    max_field_length: int = SourceConfig.max_field_length,
) -> ValidationCounts:
    """Split `stg_raw` into accepted claims and quarantined rows; the two always add up to the rows read.
    `unknown_ids`: prescriber and pharmacy ids meaning unknown besides empty and zero ([source]
    unknown_ids, trimmed and upper-case as SourceConfig keeps them). A quarantined row's text (`raw`)
    keeps at most `max_field_length` characters of each field (the longer ones end with a note of their
    length), so that no runaway value is copied."""
    limits = {
        "as_of": as_of,
        "earliest": date.fromisoformat(earliest),
        "max_field_length": max_field_length,
        "unknown_ids": list(unknown_ids),
    }
    inputs = ingest.staged_inputs(con)
    create_macros(con, "normalise_ndc", "bounded_text", "source_id", "known_id", "trimmed_text")
    accepted = quarantined = 0
    try:
        read = count_rows(con, "stg_raw")  # from the files' metadata
        for table in BATCH_TABLES:
            create_table(con, table, f"staging/{table}.sql", temp=True)
        files = fetch(con, "analyses/staged_row_ranges.sql")
        for first, last in row_slices(files, max(1, memory_limit_bytes(con) // 2 // CHECKED_ROW_BYTES)):
            bounds = {"first_row": first, "last_row": last}
            create_table(con, "stg_checked", "staging/stg_checked.sql", {**limits, **bounds}, temp=True)
            quarantined += insert_into(con, "quarantine", "staging/stg_quarantine.sql", {"run_id": run_id})
            accepted += insert_into(con, "claims", "staging/stg_claims.sql", {"run_id": run_id})
    except duckdb.Error as exc:
        ingest.unreadable_input(con, exc, inputs)
        raise
    if read != accepted + quarantined:  # never commit a night that lost rows
        raise RuntimeError(f"validation lost rows: {read:,} read, {accepted:,} + {quarantined:,} stored")
    drop_tables(con, *STAGING_TABLES)
    reasons = dict(fetch(con, "analyses/quarantine_reason_counts.sql", {"run_id": run_id}))
    return ValidationCounts(read, accepted, quarantined, reasons)


def row_slices(files: list[tuple[int, int]], rows: int) -> list[tuple[int, int]]:
    """Ranges first..last of source_row that together cover every file's rows (`files`: each file's first
    and last row) with at most `rows` rows in each range, counting every file, as few as can be; one
    range when everything fits. A range is never less than one row wide."""
    if not files:
        return []
    start, end = min(first for first, _ in files), max(last for _, last in files)

    def held(a: int, b: int) -> int:  # rows of all files within a..b
        return sum(max(0, min(b, last) - max(a, first) + 1) for first, last in files)

    slices = []
    while start <= end:
        low, high = start, end  # the furthest end that still fits, by halving
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if held(start, middle) <= rows else (low, middle - 1)
        slices.append((start, low))
        start = low + 1
    return slices
