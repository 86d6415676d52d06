"""The quarantine: every input row a night did not accept, with its reason (file, row and field), kept
for failed nights too (their claims, episodes and alerts are rolled back, their quarantine is not)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from serosurv.api.warehouse import reading
from serosurv.core.errors import SerosurvError
from transforms.sql import fetch, fetch_frame, fetch_one


@dataclass(frozen=True)
class QuarantineList:
    run: dict[str, Any]  # the run's row (run_id, as_of, status, rows_read, rows_quarantined, message...)
    reasons: pl.DataFrame  # reason_code, quarantined_rows, reason, examples (the first file rows)
    rows: pl.DataFrame  # source_file, source_row, reason_code, reason (and raw when asked for)


def list_quarantine(
    run_id: str | None = None,
    *,
    reason: str | None = None,
    limit: int = 100,
    raw: bool = False,
    warehouse: Path | str | None = None,
) -> QuarantineList:
    """The rows run `run_id` (default: the latest run, failed or not) quarantined: counts per reason with
    example rows, and up to `limit` rows (of one `reason` code if given). `raw=True` adds each row as read,
    which holds patient identifiers."""
    if limit < 1:
        raise SerosurvError(f"--limit must be at least 1, got {limit}.")
    with reading(warehouse) as con:
        if run_id:
            run = fetch_one(con, "analyses/run_by_id.sql", {"run_id": run_id})
            if run is None:
                raise SerosurvError(
                    f"No run {run_id!r} in the warehouse; the runs are listed by "
                    'serosurv query "select run_id, as_of, status from runs order by started_at".'
                )
        else:
            run = fetch_one(con, "analyses/latest_night_run.sql")
            if run is None:
                raise SerosurvError("The warehouse has no run yet.")
        params = {"run_id": run["run_id"]}
        reasons = fetch(con, "analyses/quarantine_reason_examples.sql", {**params, "examples": 3})
        rows = fetch_frame(con, "analyses/quarantine_rows.sql", {**params, "reason": reason, "limit": limit})
    reasons_frame = pl.DataFrame(
        [(code, n, text, list(examples)) for code, n, text, examples in reasons],
        schema={
            "reason_code": pl.String,
            "quarantined_rows": pl.Int64,
            "reason": pl.String,
            "examples": pl.List(pl.String),
        },
        orient="row",
    )
    return QuarantineList(run, reasons_frame, rows if raw else rows.drop("raw"))
