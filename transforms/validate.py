"""Row-level validation: every staged row is accepted into `claims` or moved to `quarantine` with a reason.

It reads the staging view `stg_raw` (transforms/ingest), which streams from the input files: first the
batch-wide facts (`stg_repeats`, `stg_loaded`: repeated claim ids and ids earlier nights loaded, both
small), then the row checks of sql/staging/stg_claims.sql, split by two inserts. A batch that fits in
half the memory limit is checked once into a typed copy (`stg_checked`; a row's raw text only when it
is quarantined) that the inserts read (25% faster at 10M claims); a larger one is checked twice,
streaming, so that it never spills: a copy of 100M claims wrote 35 GB of temporary files. Both passes
see the same batch-wide facts, so a row lands in exactly one of the two tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from serosurv.core.warehouse import CANONICAL_COLUMNS, memory_limit_bytes, rows
from transforms import ingest
from transforms.sql import sql_text

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
    earlier = "SELECT run_id FROM runs WHERE as_of = $as_of"
    for table in ("claims", "quarantine", "patients"):
        con.execute(f"DELETE FROM {table} WHERE run_id IN ({earlier})", {"as_of": as_of})


def check_claims(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, earliest: str) -> ValidationCounts:
    """Split `stg_raw` into accepted claims and quarantined rows; the two always add up to the rows read."""
    checked = f"({sql_text('staging/stg_claims.sql')})"
    limits = {"as_of": as_of, "earliest": date.fromisoformat(earliest)}
    params = {**limits, "run_id": run_id}
    inputs = ingest.staged_inputs(con)
    try:
        read = rows(con, "SELECT count(*) FROM stg_raw")[0][0]  # from the files' metadata
        for table in BATCH_TABLES:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql_text(f'staging/{table}.sql')}")
        if read * CHECKED_ROW_BYTES <= memory_limit_bytes(con) // 2:
            con.execute(f"CREATE OR REPLACE TEMP TABLE stg_checked AS {checked}", limits)
            checked, params = "stg_checked", {"run_id": run_id}
        quarantined = con.execute(
            "INSERT INTO quarantine BY NAME SELECT source_file, source_row, raw, reason_code, reason, "
            f"$run_id AS run_id FROM {checked} WHERE reason_code IS NOT NULL",
            params,
        ).fetchall()[0][0]
        accepted = con.execute(
            f"INSERT INTO claims BY NAME SELECT {', '.join(CANONICAL_COLUMNS)}, source_file, source_row, "
            f"$run_id AS run_id FROM {checked} WHERE reason_code IS NULL",
            params,
        ).fetchall()[0][0]
    except duckdb.Error as exc:
        ingest.unreadable_input(con, exc, inputs)
        raise
    if read != accepted + quarantined:  # never commit a night that lost rows
        raise RuntimeError(f"validation lost rows: {read:,} read, {accepted:,} + {quarantined:,} stored")
    con.execute("; ".join(f"DROP TABLE IF EXISTS {table}" for table in STAGING_TABLES))
    reasons = dict(
        rows(
            con,
            "SELECT reason_code, count(*) FROM quarantine WHERE run_id = $run_id GROUP BY ALL ORDER BY 2 DESC, 1",
            {"run_id": run_id},
        )
    )
    return ValidationCounts(read, accepted, quarantined, reasons)
