"""Hand-written anchors: what the pandas baseline computes, written for speed in DuckDB and in Polars.

    python -m benchmarks.anchors duckdb FILLS.parquet RULE_PAIRS.parquet
    python -m benchmarks.anchors polars FILLS.parquet RULE_PAIRS.parquet

Same inputs and semantics as benchmarks/pandas_reference.py: episodes per patient and ingredient with a
7-day grace and inclusive ends, then the pairs of episodes of two ingredients with a rule that share at
least one day (per patient and ingredient pair: the first shared day and the shared days summed). Each
prints the line pandas_reference prints (`episodes=N pairs=M overlap_days=K`), so benchmarks/run.py can
check the three agree (and on stderr `compute_s=`, as pandas_reference). They are what a strong engineer would write for this one question in each tool,
against which the engine (which does much more per claim) is measured.

- DuckDB: one query (benchmarks/anchor_duckdb.sql) in an in-memory database reading the Parquet files
  where they lie: one windowed pass over the fills sorted per (patient, ingredient) by date, a second
  over the episode starts only (an episode ends where the next one starts).
- Polars: one lazy pipeline that sorts once; the day covered by the earlier fills is a `cum_max` shifted
  by one that restarts at each (patient, ingredient) run of the sorted rows, episodes are numbered by a
  `cum_sum` of their starts; then the pairs from the collected episodes, lazily.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

GRACE = 7
DUCKDB_QUERY = Path(__file__).with_name("anchor_duckdb.sql")


def duckdb_anchor(fills: str, pairs: str) -> tuple[int, int, int]:
    import duckdb

    con = duckdb.connect()
    episodes, n_pairs, overlap_days = con.execute(
        DUCKDB_QUERY.read_text(), {"fills": fills, "pairs": pairs}
    ).fetchall()[0]
    return int(episodes), int(n_pairs), int(overlap_days)


def polars_episodes(fills: str):
    """Episodes (patient_id, ingredient, start, end, n_fills; days since 1970), lazily.

    After one sort, each (patient, ingredient) is a run of rows. The day covered by a run's earlier
    fills is a `cum_max` shifted by one that restarts at each run: the ends are lifted by the run's
    number times 2**32, so every run starts above the one before it (a plain column pass, faster than
    `.over()`, which groups the rows again)."""
    import polars as pl

    group = ["patient_id", "ingredient"]
    lift = pl.col("run").cast(pl.Int64) * 2**32
    return (
        pl.scan_parquet(fills)
        .select(
            *group,
            pl.col("fill_date").cast(pl.Date).cast(pl.Int32).alias("start"),
            pl.col("days_supply").cast(pl.Int32),
        )
        .with_columns(end=pl.col("start") + pl.col("days_supply") - 1)
        .sort(*group, "start")
        .with_columns(run=pl.struct(group).rle_id())
        .with_columns(
            first_of_run=pl.col("run").diff().fill_null(1) != 0,
            covered_until=(lift + pl.col("end")).cum_max().shift(1) - lift,
        )
        .with_columns(
            episode=(pl.col("first_of_run") | (pl.col("start") - pl.col("covered_until") > GRACE + 1))
            .cast(pl.UInt32)
            .cum_sum()
        )
        .group_by("episode")
        .agg(
            pl.col("patient_id").first(),
            pl.col("ingredient").first(),
            pl.col("start").first(),
            pl.col("end").max(),
            pl.len().alias("n_fills"),
        )
    )


def polars_anchor(fills: str, pairs: str) -> tuple[int, int, int]:
    import polars as pl

    episodes = polars_episodes(fills).collect()
    rule_pairs = pl.scan_parquet(pairs).select("ingredient_a", "ingredient_b").unique()
    ruled = pl.concat(
        [
            rule_pairs.select(pl.col("ingredient_a").alias("ingredient")),
            rule_pairs.select(pl.col("ingredient_b").alias("ingredient")),
        ]
    ).unique()
    ruled_episodes = (
        episodes.lazy()
        .select("patient_id", "ingredient", "start", "end")
        .join(ruled, on="ingredient", how="semi")
    )
    first_day = pl.max_horizontal("start", "start_b")
    last_day = pl.min_horizontal("end", "end_b")
    # a patient's overlapping episode pairs first (few per patient), then the rules: joining the rules
    # first would repeat every episode once per rule partner of its ingredient
    interacting = (
        ruled_episodes.join(ruled_episodes, on="patient_id", suffix="_b")
        .filter(first_day <= last_day)
        .join(
            rule_pairs,
            left_on=["ingredient", "ingredient_b"],
            right_on=["ingredient_a", "ingredient_b"],
        )
        .group_by("patient_id", pl.col("ingredient").alias("ingredient_a"), "ingredient_b")
        .agg(first_overlap=first_day.min(), overlap_days=(last_day - first_day + 1).sum())
        .collect()
    )
    return episodes.height, interacting.height, int(interacting["overlap_days"].sum())


ANCHORS = {"duckdb": duckdb_anchor, "polars": polars_anchor}


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] not in ANCHORS:
        raise SystemExit(
            f"usage: python -m benchmarks.anchors {{{'|'.join(ANCHORS)}}} FILLS.parquet RULE_PAIRS.parquet"
        )
    anchor = ANCHORS[sys.argv[1]]
    importlib.import_module(sys.argv[1])  # imported here, each anchor only its own: start-up, not compute
    started = time.perf_counter()
    episodes, pairs, overlap_days = anchor(sys.argv[2], sys.argv[3])
    print(f"episodes={episodes} pairs={pairs} overlap_days={overlap_days}")
    # reading and computing, without Python's start-up and imports (benchmarks/run.py compares this)
    print(f"compute_s={time.perf_counter() - started:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
