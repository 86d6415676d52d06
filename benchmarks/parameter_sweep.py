"""What each episode parameter changes: interactions found on a warehouse's claims, one setting at a time.

    .venv/bin/python -m benchmarks.parameter_sweep demo-out/serosurv.duckdb --as-of 2025-12-31

Works on a copy of the warehouse (the original is not touched) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path

from serosurv.core.config import Config, EpisodeConfig
from serosurv.core.rules import load_rules
from serosurv.core.warehouse import connect, rows
from transforms import engine

SETTINGS: list[tuple[str, dict]] = [
    ("defaults", {}),
    ("grace_days = 0", {"grace_days": 0}),
    ("grace_days = 30", {"grace_days": 30}),
    ("grace_percent = 50 (grace_days 0)", {"grace_days": 0, "grace_percent": 50.0}),
    ("stockpiling = carryover", {"stockpiling": "carryover"}),
    ("stockpiling = capped, 10 days", {"stockpiling": "capped", "stockpile_cap_days": 10}),
    (
        "stockpiling = capped, overlap <= 20%",
        {"stockpiling": "capped", "stockpile_max_overlap_percent": 20.0},
    ),
    ("same_day = sum", {"same_day": "sum"}),
    ("same_day = max", {"same_day": "max"}),
    ("extension_days = 7", {"extension_days": 7}),
    ("min_episode_days = 7", {"min_episode_days": 7}),
    ("end_convention = omop (30-day persistence)", {"end_convention": "omop"}),
]


def sweep(warehouse: Path, as_of: date) -> list[tuple[str, dict[str, int]]]:
    ruleset = load_rules()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "sweep.duckdb"
        shutil.copy(warehouse, copy)
        con = connect(copy)
        engine.register_rules(con, ruleset.pair_table())
        for label, changes in SETTINGS:
            settings = replace(EpisodeConfig(), **changes)
            counts = engine.build_episodes(con, as_of, settings)
            engine.find_interactions(con, Config().interactions, settings)
            by_kind = dict(rows(con, "SELECT kind, count(*) FROM interactions GROUP BY ALL"))
            cross = rows(con, "SELECT count(*) FILTER (WHERE cross_prescriber) FROM interactions")[0][0]
            days = rows(con, "SELECT coalesce(sum(overlap_days), 0) FROM interactions")[0][0]
            results.append(
                (
                    label,
                    {
                        "episodes": counts["episodes"],
                        "overlap": by_kind.get("overlap", 0),
                        "washout": by_kind.get("washout", 0),
                        "cross_prescriber": cross,
                        "overlap_days": days,
                    },
                )
            )
        con.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    args = parser.parse_args()
    print("| setting | episodes | overlap | washout | cross-prescriber | overlap days |")
    print("|---|---|---|---|---|---|")
    for label, c in sweep(args.warehouse, args.as_of):
        print(
            f"| {label} | {c['episodes']:,} | {c['overlap']:,} | {c['washout']:,} | {c['cross_prescriber']:,} "
            f"| {c['overlap_days']:,} |"
        )


if __name__ == "__main__":
    main()
