"""Prevalence with strata against the same query without them, on one warehouse (issue 19).

    .venv/bin/python -m benchmarks.prevalence_strata demo-out/serosurv.duckdb [--repeat 3]

Runs the README's example (`--interval quarter --measure period --denominator users_of:SSRI`) without
strata (the baseline, measured in the same run), then `--by sex`, `--by age_band` and `--by age_band,sex`,
each --repeat times, and prints the best time of each with its ratio to the baseline, the table's cells and
the share of them suppressed. Reads the warehouse (read-only); writes nothing but temporary files.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl

from serosurv import api

CASES = [
    ("no strata (baseline)", []),
    ("--by sex", ["sex"]),
    ("--by age_band", ["age_band"]),
    ("--by age_band,sex", ["age_band", "sex"]),
]


def measure(warehouse: Path, by: list[str], repeat: int) -> tuple[float, pl.DataFrame]:
    best = float("inf")
    table = pl.DataFrame()
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            started = time.perf_counter()
            written = api.prevalence(
                Path(tmp) / "p.parquet",
                warehouse=warehouse,
                interval="quarter",
                measure="period",
                denominator="users_of:SSRI",
                by=by,
            )
            best = min(best, time.perf_counter() - started)
            table = pl.read_parquet(written.table)
    return best, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"| query | best of {args.repeat} (s) | x baseline | cells | suppressed |")
    print("|---|---|---|---|---|")
    baseline = None
    for label, by in CASES:
        seconds, table = measure(args.warehouse, by, args.repeat)
        baseline = baseline or seconds
        hidden = int(table.get_column("suppressed").sum())
        print(
            f"| {label} | {seconds:.2f} | {seconds / baseline:.2f} | {table.height:,} | "
            f"{hidden / max(table.height, 1):.0%} |"
        )


if __name__ == "__main__":
    main()
