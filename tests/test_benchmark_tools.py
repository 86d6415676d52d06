"""The benchmark's own tools: the pandas baseline and its hand-written DuckDB and Polars anchors agree on
a case worked by hand."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from benchmarks import anchors, pandas_reference


@pytest.fixture
def baseline_inputs(tmp_path: Path) -> tuple[str, str]:
    fills = pl.DataFrame(
        [
            # P1 sertraline: 01-01..01-30, then 02-07 after 7 uncovered days (joined) .. 03-08; 04-01..04-30
            ("P1", "sertraline", date(2025, 1, 1), 30),
            ("P1", "sertraline", date(2025, 2, 7), 30),
            ("P1", "sertraline", date(2025, 4, 1), 30),
            # P1 tramadol: 01-20..01-29 (10 days with sertraline); two fills on 03-01 (tied), to 03-10
            ("P1", "tramadol", date(2025, 1, 20), 10),
            ("P1", "tramadol", date(2025, 3, 1), 5),
            ("P1", "tramadol", date(2025, 3, 1), 10),
            # P2 sertraline: 01-01..01-10, then 01-19 after 8 uncovered days: a second episode
            ("P2", "sertraline", date(2025, 1, 1), 10),
            ("P2", "sertraline", date(2025, 1, 19), 10),
            # no rule names metformin: an episode, never a pair
            ("P2", "metformin", date(2025, 1, 5), 90),
        ],
        schema={
            "patient_id": pl.String,
            "ingredient": pl.String,
            "fill_date": pl.Date,
            "days_supply": pl.Int32,
        },
        orient="row",
    )
    # a pair with a route-specific rule appears twice in the rule table: one pair all the same
    pairs = pl.DataFrame(
        {"ingredient_a": ["sertraline", "sertraline"], "ingredient_b": ["tramadol", "tramadol"]}
    )
    fills.write_parquet(tmp_path / "fills.parquet")
    pairs.write_parquet(tmp_path / "rule_pairs.parquet")
    return str(tmp_path / "fills.parquet"), str(tmp_path / "rule_pairs.parquet")


# 7 episodes (P1: sertraline 2, tramadol 2; P2: sertraline 2, metformin 1); one pair, P1 sertraline +
# tramadol, sharing 10 days in January and 8 in March (03-01..03-08)
EXPECTED = "episodes=7 pairs=1 overlap_days=18"


@pytest.mark.parametrize("anchor", ["duckdb", "polars"])
def test_each_anchor_prints_the_hand_worked_counts(baseline_inputs, anchor):
    episodes, pairs, overlap_days = anchors.ANCHORS[anchor](*baseline_inputs)
    assert f"episodes={episodes} pairs={pairs} overlap_days={overlap_days}" == EXPECTED


@pytest.mark.parametrize("module", [pandas_reference, anchors], ids=["pandas", "anchors"])
def test_the_baseline_and_the_anchors_print_the_same_line(baseline_inputs, module, monkeypatch, capsys):
    argv = [*(["duckdb"] if module is anchors else []), *baseline_inputs]
    monkeypatch.setattr(sys, "argv", ["benchmark", *argv])
    module.main()
    assert capsys.readouterr().out == EXPECTED + "\n"
