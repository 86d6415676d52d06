"""The engine alone on a warehouse that already holds accepted, mapped claims: accepted claims → episodes
→ interactions → serotonergic burden, as a night runs them (transforms/engine.py), rolled back after.

python -m benchmarks.engine_only WAREHOUSE AS_OF

Prints the counts and each step's seconds (episodes_s, interactions_s, burden_s); benchmarks/run.py
counts their sum as the engine's time.
"""

from __future__ import annotations

import sys
import time
from datetime import date

from serosurv.core.config import Config
from serosurv.core.rules import load_rules
from serosurv.core.warehouse import connect
from transforms import engine


def main() -> None:
    config = Config()
    ruleset = load_rules()
    con = connect(sys.argv[1])
    started = time.perf_counter()
    engine.register_rules(con, ruleset.pair_table(), ruleset.burden_ingredients())
    con.execute("BEGIN TRANSACTION")
    counts = engine.build_episodes(con, date.fromisoformat(sys.argv[2]), config.episodes)
    episodes_done = time.perf_counter()
    found = engine.find_interactions(con, config.interactions, config.episodes)
    interactions_done = time.perf_counter()
    burden = engine.find_burden(con)
    done = time.perf_counter()
    con.execute("ROLLBACK")  # leave the warehouse as it was
    print(
        f"episodes={counts['episodes']} interactions={sum(found.values())} "
        f"burden_periods={burden['burden_periods']} "
        f"episodes_s={episodes_done - started:.2f} interactions_s={interactions_done - episodes_done:.2f} "
        f"burden_s={done - interactions_done:.2f}"
    )


if __name__ == "__main__":
    main()
