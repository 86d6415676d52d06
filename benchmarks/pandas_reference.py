"""The baseline: a plain, reasonable vectorised pandas implementation of episodes + overlapping pairs.

    python -m benchmarks.pandas_reference FILLS.parquet RULE_PAIRS.parquet

FILLS has one row per paid fill and ingredient (patient_id, ingredient, fill_date, days_supply);
RULE_PAIRS has ingredient_a, ingredient_b. Same semantics as the engine's defaults for these parts:
inclusive end, episodes joined while the uncovered gap is at most GRACE days, pairs of episodes of
two ingredients with a rule that share at least one day, per patient and ingredient pair the first
shared day and the shared days summed. Prints the counts it found (`episodes=N pairs=M overlap_days=K`,
the line benchmarks/anchors.py prints for the same inputs), and on stderr the seconds it took from
reading the files to the counts (`compute_s=`).
"""

from __future__ import annotations

import sys
import time

import pandas as pd

GRACE = 7


def episodes(fills: pd.DataFrame) -> pd.DataFrame:
    fills = fills.sort_values(["patient_id", "ingredient", "fill_date"], kind="stable")
    fills["end"] = fills["fill_date"] + pd.to_timedelta(fills["days_supply"] - 1, unit="D")
    group = [fills["patient_id"], fills["ingredient"]]
    covered = fills.groupby(group, sort=False)["end"].cummax()
    previous = covered.groupby(group, sort=False).shift()
    gap = (fills["fill_date"] - previous).dt.days - 1
    fills["episode"] = (previous.isna() | (gap > GRACE)).astype("int64").groupby(group, sort=False).cumsum()
    return (
        fills.groupby(["patient_id", "ingredient", "episode"], sort=False)
        .agg(start=("fill_date", "min"), end=("end", "max"), n_fills=("fill_date", "size"))
        .reset_index()
    )


def overlapping_pairs(eps: pd.DataFrame, rule_pairs: pd.DataFrame) -> pd.DataFrame:
    rule_pairs = rule_pairs.drop_duplicates()  # a pair with route-specific rules is one pair here
    ruled = set(rule_pairs["ingredient_a"]) | set(rule_pairs["ingredient_b"])
    eps = eps[eps["ingredient"].isin(ruled)]
    side_a = eps.rename(columns={"ingredient": "ingredient_a", "start": "start_a", "end": "end_a"})
    side_b = eps.rename(columns={"ingredient": "ingredient_b", "start": "start_b", "end": "end_b"})
    pairs = side_a[["patient_id", "ingredient_a", "start_a", "end_a"]].merge(rule_pairs, on="ingredient_a")
    pairs = pairs.merge(
        side_b[["patient_id", "ingredient_b", "start_b", "end_b"]], on=["patient_id", "ingredient_b"]
    )
    pairs["first"] = pairs[["start_a", "start_b"]].max(axis=1)
    last = pairs[["end_a", "end_b"]].min(axis=1)
    pairs["overlap_days"] = (last - pairs["first"]).dt.days + 1
    pairs = pairs[pairs["overlap_days"] >= 1]
    return pairs.groupby(["patient_id", "ingredient_a", "ingredient_b"], sort=False).agg(
        first_overlap=("first", "min"), overlap_days=("overlap_days", "sum")
    )


def main() -> None:
    started = time.perf_counter()
    fills = pd.read_parquet(sys.argv[1], columns=["patient_id", "ingredient", "fill_date", "days_supply"])
    fills["fill_date"] = pd.to_datetime(fills["fill_date"])
    rule_pairs = pd.read_parquet(sys.argv[2], columns=["ingredient_a", "ingredient_b"])
    eps = episodes(fills)
    pairs = overlapping_pairs(eps, rule_pairs)
    print(f"episodes={len(eps)} pairs={len(pairs)} overlap_days={int(pairs['overlap_days'].sum())}")
    # reading and computing, without Python's start-up and imports (benchmarks/run.py compares this)
    print(f"compute_s={time.perf_counter() - started:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
