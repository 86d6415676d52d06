"""The command line as the README uses it: one warehouse for every command, `query`, the demo's
warehouse, and a closed pipe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from serosurv.cli import main
from serosurv.core.warehouse import connect

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_commands_work_in_the_order_written(
    prefect_harness, generated, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEROSURV_WAREHOUSE", raising=False)
    claims, patients = str(generated["claims"]), str(generated["patients"])
    assert (
        main(["run", "--claims", claims, "--patients", patients, "--as-of", "2025-12-31", "--out", "out"])
        == 0
    )
    assert f"Warehouse: {Path('serosurv.duckdb')}" in capsys.readouterr().out
    assert (tmp_path / "serosurv.duckdb").is_file() and (
        tmp_path / "out" / "2025-12-31" / "report.html"
    ).is_file()
    assert main(["alerts", "list", "--format", "csv"]) == 0  # the warehouse `run` just wrote
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith("alert_id,") and len(listed) > 1
    assert (
        main(["query", "select count(*) as alerts from alerts where status = 'new'", "--format", "csv"]) == 0
    )
    assert capsys.readouterr().out.splitlines() == [
        "alerts",
        str(len(listed) - 1),
    ]  # every alert is new tonight


@pytest.mark.parametrize(
    "sql",
    ["delete from alerts", "copy alerts to 'leak.csv'", "attach 'other.duckdb' as other"],
    ids=["delete", "copy-to-file", "attach"],
)
def test_query_writes_nothing_anywhere(tmp_path, monkeypatch, capsys, sql):
    monkeypatch.chdir(tmp_path)
    connect(tmp_path / "w.duckdb").close()
    assert main(["query", sql, "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert "serosurv: error: The query failed" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]


def test_the_demo_says_how_to_explore_its_own_warehouse(prefect_harness, tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo-out"), "--patients", "300", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    warehouse = tmp_path / "demo-out" / "serosurv.duckdb"
    assert f"serosurv alerts list --warehouse {warehouse}" in out
    assert main(["alerts", "list", "--warehouse", str(warehouse)]) == 0


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`serosurv ... | head -1`: the reader leaves early; serosurv exits 0 without a word."""
    connect(tmp_path / "w.duckdb").close()
    command = (
        f"set -o pipefail; {sys.executable} -m serosurv query 'select * from range(300000)' --format csv "
        f"--warehouse {tmp_path / 'w.duckdb'} | head -n 1"
    )
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, "range\n", "")
