"""Row-level validation: every staged row is accepted into `claims` or moved to `quarantine` with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from serosurv.warehouse import CANONICAL_COLUMNS, rows
from transforms.sql import sql_text


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
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE stg_checked AS {sql_text('staging/stg_claims.sql')}",
        {"as_of": as_of, "earliest": date.fromisoformat(earliest)},
    )
    columns = ", ".join(CANONICAL_COLUMNS)
    con.execute(
        f"INSERT INTO claims BY NAME SELECT {columns}, source_file, source_row, $run_id AS run_id "
        "FROM stg_checked WHERE reason_code IS NULL",
        {"run_id": run_id},
    )
    con.execute(
        "INSERT INTO quarantine BY NAME SELECT source_file, source_row, raw, reason_code, reason, "
        "$run_id AS run_id FROM stg_checked WHERE reason_code IS NOT NULL",
        {"run_id": run_id},
    )
    reasons = dict(
        rows(
            con,
            "SELECT reason_code, count(*) FROM stg_checked WHERE reason_code IS NOT NULL "
            "GROUP BY ALL ORDER BY 2 DESC, 1",
        )
    )
    total = rows(con, "SELECT count(*) FROM stg_checked")[0][0]
    quarantined = sum(reasons.values())
    return ValidationCounts(total, total - quarantined, quarantined, reasons)
