"""Row-level validation: every staged row is accepted into `claims` or moved to `quarantine` with a reason.

It streams from the staging view `stg_raw` (transforms/ingest): the checks run once for the quarantined
rows and once for the accepted ones rather than over a materialised copy of the batch, which at 100M
claims is tens of GB of spill. Both passes see the same batch-wide facts (`stg_repeats`, `stg_loaded`,
computed before either inserts), so a row lands in exactly one of the two tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from serosurv.warehouse import CANONICAL_COLUMNS, rows
from transforms import ingest
from transforms.sql import sql_text

BATCH_TABLES = ("stg_repeats", "stg_loaded")


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
    checked = sql_text("staging/stg_claims.sql")
    params = {"as_of": as_of, "earliest": date.fromisoformat(earliest), "run_id": run_id}
    inputs = ingest.staged_inputs(con)
    try:
        for table in BATCH_TABLES:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql_text(f'staging/{table}.sql')}")
        quarantined = con.execute(
            "INSERT INTO quarantine BY NAME SELECT source_file, source_row, raw, reason_code, reason, "
            f"$run_id AS run_id FROM ({checked}) WHERE reason_code IS NOT NULL",
            params,
        ).fetchall()[0][0]
        accepted = con.execute(
            f"INSERT INTO claims BY NAME SELECT {', '.join(CANONICAL_COLUMNS)}, source_file, source_row, "
            f"$run_id AS run_id FROM ({checked}) WHERE reason_code IS NULL",
            params,
        ).fetchall()[0][0]
        read = rows(con, "SELECT count(*) FROM stg_raw")[0][0]
    except duckdb.Error as exc:
        ingest.unreadable_input(con, exc, inputs)
        raise
    if read != accepted + quarantined:  # the two passes disagree: never commit a night that lost rows
        raise RuntimeError(f"validation lost rows: {read:,} read, {accepted:,} + {quarantined:,} stored")
    con.execute("; ".join(f"DROP TABLE IF EXISTS {table}" for table in BATCH_TABLES))
    reasons = dict(
        rows(
            con,
            "SELECT reason_code, count(*) FROM quarantine WHERE run_id = $run_id GROUP BY ALL ORDER BY 2 DESC, 1",
            {"run_id": run_id},
        )
    )
    return ValidationCounts(read, accepted, quarantined, reasons)
