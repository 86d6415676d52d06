"""The engine alone on a warehouse that already holds accepted, mapped claims: accepted claims → episodes
→ interactions → serotonergic burden, as a night runs them (transforms/engine.py), rolled back after.

python -m benchmarks.engine_only WAREHOUSE AS_OF [--threads N] [--statements]

Prints the counts and each step's seconds (episodes_s, interactions_s, burden_s); benchmarks/run.py
counts their sum as the engine's time. `--threads 1` runs DuckDB on one thread (steadier when the machine is
shared); `--statements` also prints each statement's seconds (the engine's SQL files, first line of each),
for side-by-side comparisons of two checkouts (docs/performance.md).
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from typing import Any

import duckdb

from serosurv.core.config import Config
from serosurv.core.rules import load_rules
from serosurv.core.warehouse import connect
from transforms import engine


class TimedConnection:
    """A connection that times each statement it executes (execute and sql), for --statements."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self.timings: list[tuple[float, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def _timed(self, method: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = method(query, *args, **kwargs)
        lines = (line.strip() for line in str(query).splitlines())
        words = " ".join(line for line in lines if line and not line.startswith("--"))
        self.timings.append((time.perf_counter() - started, words[:100]))
        return result

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        return self._timed(self._con.execute, query, *args, **kwargs)

    def sql(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        return self._timed(self._con.sql, query, *args, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse")
    parser.add_argument("as_of", type=date.fromisoformat)
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's, one per core)")
    parser.add_argument("--statements", action="store_true", help="print each statement's seconds too")
    args = parser.parse_args()
    config = Config()
    ruleset = load_rules()
    raw = connect(args.warehouse)
    if args.threads:
        raw.execute("SET threads = $threads", {"threads": args.threads})
    con = TimedConnection(raw) if args.statements else raw
    started = time.perf_counter()
    engine.register_rules(con, ruleset.pair_table(), ruleset.burden_ingredients())
    con.execute("BEGIN TRANSACTION")
    counts = engine.build_episodes(con, args.as_of, config.episodes)
    episodes_done = time.perf_counter()
    found = engine.find_interactions(con, config.interactions, config.episodes)
    interactions_done = time.perf_counter()
    burden = engine.find_burden(con)
    done = time.perf_counter()
    raw.execute("ROLLBACK")  # leave the warehouse as it was
    if args.statements:
        for seconds, words in con.timings:
            print(f"{seconds:7.2f} s  {words}")
    print(
        f"episodes={counts['episodes']} interactions={sum(found.values())} "
        f"burden_periods={burden['burden_periods']} "
        f"episodes_s={episodes_done - started:.2f} interactions_s={interactions_done - episodes_done:.2f} "
        f"burden_s={done - interactions_done:.2f}"
    )


if __name__ == "__main__":
    main()
