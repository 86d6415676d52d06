"""Per-bucket engine times, for sizing a Dask cluster (docs/scaling.md).

    .venv/bin/python -m benchmarks.buckets WAREHOUSE --buckets 8 [--threads 1]

Exports the warehouse's claims into hash buckets of patients, runs the engine on each bucket in turn
with DuckDB limited to --threads (as one Dask worker would), and prints export, per-bucket and load
times with claims per second per worker.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from serosurv.core.config import Config
from serosurv.core.rules import load_rules
from transforms import buckets, engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--buckets", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 12, 31))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "w.duckdb"
        shutil.copy(args.warehouse, copy)
        con = duckdb.connect(str(copy))
        engine.register_rules(con, load_rules().pair_table())
        claims = con.execute("SELECT count(*) FROM claims").fetchall()[0][0]
        started = time.perf_counter()
        buckets.export_buckets(con, Path(tmp) / "b", args.buckets)
        exported = time.perf_counter() - started
        settings = Config().to_dict()
        per_bucket = []
        outputs = []
        for b in range(args.buckets):
            t = time.perf_counter()
            outputs.append(
                buckets.run_bucket(
                    str(Path(tmp) / "b"),
                    b,
                    args.as_of.isoformat(),
                    settings["episodes"],
                    settings["interactions"],
                    args.threads,
                )
            )
            per_bucket.append(time.perf_counter() - t)
        t = time.perf_counter()
        buckets.load_outputs(con, outputs)
        loaded = time.perf_counter() - t
        con.close()
    mean = statistics.mean(per_bucket)
    print(f"claims {claims:,} in {args.buckets} buckets ({claims / args.buckets:,.0f} claims each)")
    print(
        f"export {exported:.1f} s; per bucket mean {mean:.2f} s (min {min(per_bucket):.2f}, max {max(per_bucket):.2f});"
        f" load {loaded:.1f} s"
    )
    print(f"engine throughput per worker: {claims / args.buckets / mean:,.0f} claims/s")


if __name__ == "__main__":
    main()
