"""Capped carry-over of early refills, which has no closed form in SQL (the cap makes it non-linear).

Reads the temp table `fills`, writes the temp table `stockpiled_fills` with the same columns as
sql/intermediate/int_stockpiled_fills.sql. One pass per patient and ingredient over fills in date
order: an early refill starts after the supply on hand, carrying forward at most `cap_days` of the
overlap (0 = no day cap) and only when the overlap is at most `max_overlap_percent` % of the previous
fill's supply (0 = no percent rule; Sentinel's PERCENTDAYS). Otherwise the overlap is truncated.
`supply_end` is the full carry-over end, as in the SQL: washouts are measured from it.
"""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

from transforms.sql import fetch_frame, table_from_frame


def capped_shift(overlap: int, previous_supply: int, cap_days: int, max_overlap_percent: float) -> int:
    """How many days an early refill is pushed forward (0 = truncated)."""
    if overlap <= 0:
        return 0
    if max_overlap_percent and overlap > previous_supply * max_overlap_percent / 100.0:
        return 0
    return min(overlap, cap_days) if cap_days else overlap


def stockpile_capped(con: duckdb.DuckDBPyConnection, cap_days: int, max_overlap_percent: float) -> None:
    fills = fetch_frame(con, "analyses/fills_in_date_order.sql")
    group = (fills["patient_id"] + "\x1f" + fills["ingredient"]).to_numpy()
    start = fills["start_day"].to_numpy().astype(np.int64)
    covered = fills["covered_days"].to_numpy().astype(np.int64)
    new_start = start.copy()
    supply_end = start.copy()
    covered_until = previous_supply = carried_until = 0
    for i in range(len(start)):
        if i == 0 or group[i] != group[i - 1]:
            covered_until = carried_until = start[i] - 1
            previous_supply = covered[i]
        overlap = int(covered_until - start[i] + 1)
        new_start[i] = start[i] + capped_shift(overlap, previous_supply, cap_days, max_overlap_percent)
        covered_until = max(covered_until, new_start[i] + covered[i] - 1)
        carried_until = max(carried_until, start[i] - 1) + covered[i]
        supply_end[i] = carried_until
        previous_supply = covered[i]
    epoch = np.datetime64("1970-01-01")
    result = fills.select(
        "patient_id", "ingredient", "route", "fill_key", "fill_date", "days_supply"
    ).with_columns(
        exposure_start=pl.Series(epoch + new_start.astype("timedelta64[D]")).cast(pl.Date),
        exposure_end=pl.Series(epoch + (new_start + covered - 1).astype("timedelta64[D]")).cast(pl.Date),
        supply_end=pl.Series(epoch + supply_end.astype("timedelta64[D]")).cast(pl.Date),
        prescriber_id=fills["prescriber_id"],
        pharmacy_id=fills["pharmacy_id"],
    )
    table_from_frame(con, "stockpiled_fills", result)
