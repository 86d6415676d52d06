"""The audit report, worklist exports and quality dashboard from a real night (generated data through
the Prefect flow), and both HTML files rendered in headless Chromium with no network."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from serosurv import api
from serosurv.report_cli import build_standalone_parser, dashboard, dispatch

AS_OF = date(2025, 12, 31)
SCREENSHOTS = Path(__file__).resolve().parent / "output" / "screenshots"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


@pytest.fixture(scope="module")
def night(prefect_harness, generated, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    result = api.run([generated["claims"]], patients=generated["patients"], out_dir=out, as_of=AS_OF)
    board = dashboard(out / "serosurv.duckdb", date(2025, 1, 1), AS_OF, out / "dashboard.html")
    return result, out, board


def test_night_writes_report_csv_and_parquet_worklists_with_the_same_alerts(night):
    result, out, _ = night
    folder = out / str(AS_OF)
    assert {p.name for p in folder.iterdir()} >= {"report.html", "alerts.csv", "alerts.parquet"}
    with (folder / "alerts.csv").open(encoding="utf-8") as handle:
        listed = list(csv.DictReader(handle))
    parquet = pl.read_parquet(folder / "alerts.parquet")
    assert [r["alert_id"] for r in listed] == parquet.get_column("alert_id").to_list()
    assert listed and {r["status"] for r in listed} <= {"new", "changed", "ongoing", "resolved"}
    assert parquet.schema["prescriber_ids_a"] == pl.List(pl.String)
    assert all(r["rules_hash"] and r["config_hash"] for r in listed)


def test_audit_report_explains_each_new_alert_with_a_timeline_and_priority_parts(night):
    _, out, _ = night
    html = (out / str(AS_OF) / "report.html").read_text(encoding="utf-8")
    con = duckdb.connect(str(out / "serosurv.duckdb"), read_only=True)
    try:
        new = con.execute(
            "SELECT alert_id, rules_hash FROM alert_history JOIN runs USING (run_id) WHERE alert_history.status = 'new'"
        ).fetchall()
        top = con.execute(
            "SELECT ingredient_a, ingredient_b, patient_id FROM alert_history WHERE status = 'new' ORDER BY priority DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    assert new
    for alert_id, _ in new:
        assert f'id="alert-{alert_id}"' in html
    assert html.count('<svg class="timeline"') == len(new)  # every new alert has its chart
    first_card = html[html.index('<div class="alert ') :]
    assert (
        f"{top[0]} + {top[1]}" in first_card[:2000] and top[2] in first_card[:2000]
    )  # highest priority first
    assert "= severity +" in html and "Why" in html and "Rows reconcile" in html
    assert new[0][1] in html  # rules version named
    for section in ("Fragmentation of current alerts", "Serotonergic burden", "Quarantined rows by reason",
                    "Unmapped drugs", "Data quality", "Rules and parameters", "@media print"):  # fmt: skip
        assert section in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html


def test_dashboard_has_no_patient_identifier_and_suppresses_small_counts(night):
    _, out, board = night
    html = board.read_text(encoding="utf-8")
    con = duckdb.connect(str(out / "serosurv.duckdb"), read_only=True)
    try:
        patients = [p for (p,) in con.execute("SELECT DISTINCT patient_id FROM claims").fetchall()]
    finally:
        con.close()
    assert not [p for p in patients if p in html]
    assert "&lt;11" in html or "<11" in html
    data_rows = re.findall(r'"patients": (\d+)', html)
    assert all(int(n) == 0 or int(n) >= 11 for n in data_rows)
    assert "vegaEmbed" in html and "cdn.jsdelivr" not in html


def test_report_dashboard_command_and_its_errors(night, tmp_path, capsys):
    _, out, _ = night
    parser = build_standalone_parser()
    args = parser.parse_args(["report", "dashboard", "--from", "2025-06-01", "--to", "2025-12-31",
                              "--warehouse", str(out / "serosurv.duckdb"), "--out", str(tmp_path / "d.html")])  # fmt: skip
    assert dispatch(args) == 0 and (tmp_path / "d.html").is_file()
    args = parser.parse_args(["prevalence", "--out", str(tmp_path / "p.parquet"), "--by", "sex",
                              "--warehouse", str(out / "serosurv.duckdb"), "--interval", "quarter"])  # fmt: skip
    assert dispatch(args) == 0
    table = pl.read_parquet(tmp_path / "p.parquet")
    assert set(table.get_column("interval")) == {"2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"}
    assert (tmp_path / "p.html").is_file()


# ---------------------------------------------------------------------------- real browser


def render(page: Path, screenshot: Path, tmp_path: Path) -> tuple[str, list[str]]:
    """The DOM after scripts ran, and every console line, from headless Chromium with no network."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (CI installs Debian's chromium in .ci/run)")
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
             "--virtual-time-budget=15000", "--window-size=1280,2000",
             # no network: every host resolves nowhere
             "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"]  # fmt: skip
    url = page.resolve().as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=180)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([*flags, f"--screenshot={screenshot}", url], capture_output=True, text=True, timeout=180)
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    return dom.stdout, console


def test_audit_report_renders_in_chromium_with_its_timelines(night, tmp_path):
    _, out, _ = night
    shot = SCREENSHOTS / "audit-report.png"
    dom, console = render(out / str(AS_OF) / "report.html", shot, tmp_path)
    assert console == []
    assert dom.count('<svg class="timeline"') >= 1
    assert re.search(r'<rect class="fill"[^>]*width="[1-9]', dom)  # fills drawn with a width
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_dashboard_charts_draw_in_chromium_offline(night, tmp_path):
    _, _, board = night
    shot = SCREENSHOTS / "dashboard.png"
    dom, console = render(board, shot, tmp_path)
    assert console == []  # no error, nothing logged (a failed chart logs 'chart <id>: ...')
    drawn = int(re.search(r'data-charts-drawn="(\d+)"', dom).group(1))
    expected = int(re.search(r"expected: (\d+)", dom).group(1))
    assert drawn == expected >= 2
    marks = re.findall(r'class="mark-(?:line|symbol|rect)[^"]*"', dom)
    assert len(marks) >= expected and dom.count("<path") > 20  # SVG marks, not empty frames
    assert shot.is_file() and shot.stat().st_size > 10_000
