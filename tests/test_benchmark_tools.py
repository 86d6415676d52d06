"""The benchmark's own tools: the pandas baseline and its hand-written DuckDB and Polars anchors agree on
a case worked by hand; two warehouses built from the same claims compare identical, and one row less
is a difference."""

from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from benchmarks import anchors, compare_warehouses, pandas_reference


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


@pytest.fixture(scope="module")
def two_nights(prefect_harness, tmp_path_factory) -> tuple[Path, Path]:
    """The same night run twice on the same generated claims, into two warehouses."""
    from serosurv import api

    folder = tmp_path_factory.mktemp("two-nights")
    data = api.generate(folder / "data", patients=400, seed=11, workload="serotonergic")
    warehouses = []
    for name in ("a", "b"):
        warehouse = folder / name / "serosurv.duckdb"
        api.run(
            [data.claims],
            patients=data.patients,
            out_dir=folder / name,
            warehouse=warehouse,
            as_of=date(2025, 12, 31),
        )
        warehouses.append(warehouse)
    return warehouses[0], warehouses[1]


def test_two_nights_on_the_same_claims_compare_identical(two_nights, capsys):
    assert compare_warehouses.main([str(w) for w in two_nights]) == 0
    out = capsys.readouterr().out
    assert "all 9 tables agree" in out
    compared = {r.table: r for r in compare_warehouses.compare(*two_nights)}
    assert set(compared) == set(compare_warehouses.TABLES)
    # nothing compared empty: every table holds rows, the same number on both sides
    assert all(r.rows_a == r.rows_b and r.rows_a > 0 for r in compared.values()), compared


def _changed_copy(warehouse, tmp_path, change: str):
    """A copy of `warehouse` with the statement `change` applied."""
    changed = tmp_path / "changed.duckdb"
    shutil.copy(warehouse, changed)
    con = duckdb.connect(str(changed))
    con.execute(change)
    con.close()
    return changed


def test_a_row_missing_from_one_warehouse_is_a_difference(two_nights, tmp_path, capsys):
    a, b = two_nights
    changed = _changed_copy(
        b, tmp_path, "DELETE FROM interactions WHERE rowid = (SELECT min(rowid) FROM interactions)"
    )
    assert compare_warehouses.main([str(a), str(changed)]) == 1
    assert "1 of 9 tables differ: interactions" in capsys.readouterr().out
    for hashes in (False, True):  # rows, or their 64-bit hashes: the same counts
        compared = compare_warehouses.compare(a, changed, hashes=hashes)
        interactions = next(r for r in compared if r.table == "interactions")
        assert (interactions.only_a, interactions.only_b) == (1, 0)
        assert interactions.rows_a == interactions.rows_b + 1
        assert [r.table for r in compared if r.differs] == ["interactions"]


def test_a_changed_value_is_a_difference_by_hash_too(two_nights, tmp_path, capsys):
    a, b = two_nights
    changed = _changed_copy(
        b,
        tmp_path,
        "UPDATE episodes SET n_fills = n_fills + 1 WHERE rowid = (SELECT min(rowid) FROM episodes)",
    )
    assert compare_warehouses.main([str(a), str(b), "--hashes"]) == 0
    assert compare_warehouses.main([str(a), str(changed), "--hashes", "--tables", "episodes,claims"]) == 1
    out = capsys.readouterr().out
    assert "(rows compared by their 64-bit hash)" in out and "1 of 2 tables differ: episodes" in out


def test_the_engine_alone_recounts_the_nights_results_and_leaves_the_warehouse_as_it_was(
    two_nights, tmp_path, monkeypatch, capsys
):
    from benchmarks import engine_only

    warehouse = tmp_path / "copy.duckdb"
    shutil.copy(two_nights[0], warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    episodes, interactions = (
        con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in ("episodes", "interactions")
    )
    con.close()
    argv = ["engine_only", str(warehouse), "2025-12-31", "--threads", "1", "--statements"]
    monkeypatch.setattr(sys, "argv", argv)
    engine_only.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith(f"episodes={episodes} interactions={interactions} ")
    assert any("insert into interactions by name" in line for line in lines[:-1])
    assert compare_warehouses.main([str(two_nights[0]), str(warehouse)]) == 0  # rolled back
