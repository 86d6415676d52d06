"""The engine alone on a warehouse that already holds accepted, mapped claims: episodes + interactions.

python -m benchmarks.engine_only WAREHOUSE AS_OF
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
    con = connect(sys.argv[1])
    started = time.perf_counter()
    engine.register_rules(con, load_rules().pair_table())
    con.execute("BEGIN TRANSACTION")
    counts = engine.build_episodes(con, date.fromisoformat(sys.argv[2]), config.episodes)
    episodes_done = time.perf_counter()
    found = engine.find_interactions(con, config.interactions, config.episodes)
    con.execute("ROLLBACK")  # leave the warehouse as it was
    done = time.perf_counter()
    print(
        f"episodes={counts['episodes']} interactions={sum(found.values())} "
        f"episodes_s={episodes_done - started:.2f} interactions_s={done - episodes_done:.2f}"
    )


if __name__ == "__main__":
    main()
