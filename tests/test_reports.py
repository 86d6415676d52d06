"""The audit report, worklist exports and quality dashboard from a real night (generated data through
the Prefect flow), and both HTML files rendered in headless Chromium with no network."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from datetime import date
from html import unescape
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from serosurv import api
from serosurv.cli import main
from serosurv.core.config import ResearchConfig
from serosurv.core.rules import load_rules
from serosurv.core.severity import SEVERITIES
from tests.conftest import write_csv
from tests.test_prevalence import recoverable, two_way
from transforms.dashboard import dashboard_data
from transforms.suppression import suppress_cells

MIN_CELL = ResearchConfig().min_cell_count  # the default [research] setting the generated nights run with
SUPPRESSED = ResearchConfig().suppressed_mark

AS_OF = date(2025, 12, 31)
SCREENSHOTS = Path(__file__).resolve().parent / "output" / "screenshots"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


@pytest.fixture(scope="module")
def night(prefect_harness, generated, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    result = api.run(
        [generated["claims"]],
        patients=generated["patients"],
        out_dir=out,
        warehouse=Path(out) / "serosurv.duckdb",
        as_of=AS_OF,
    )
    board = api.dashboard(date(2025, 1, 1), AS_OF, out / "dashboard.html", warehouse=out / "serosurv.duckdb")
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


def test_worklist_csv_spells_out_what_the_parquet_and_the_warehouse_hold(night):
    """Each CSV row, field by field, against the warehouse's alert history (an independent read):
    lists joined with ';', the non-zero priority parts as `part=points`, JSON of every part in Parquet."""
    result, out, _ = night
    folder = out / str(AS_OF)
    with (folder / "alerts.csv").open(encoding="utf-8") as handle:
        listed = {r["alert_id"]: r for r in csv.DictReader(handle)}
    parquet = {r["alert_id"]: r for r in pl.read_parquet(folder / "alerts.parquet").to_dicts()}
    con = duckdb.connect(str(out / "serosurv.duckdb"), read_only=True)
    try:
        stored = con.execute(
            "SELECT alert_id, status, priority, priority_parts, prescriber_ids_a, claim_ids_b, cross_prescriber, "
            "first_overlap_date FROM alert_history WHERE run_id = $r",
            {"r": result.run_id},
        ).fetchall()
    finally:
        con.close()
    assert len(stored) == len(listed) == len(parquet) > 0
    for alert_id, status, priority, parts, prescribers_a, claims_b, cross, first in stored:
        row = listed[alert_id]
        assert row["status"] == status and float(row["priority"]) == pytest.approx(priority)
        assert row["prescriber_ids_a"] == ";".join(prescribers_a)
        assert row["claim_ids_b"] == ";".join(claims_b)
        assert row["cross_prescriber"] == {True: "true", False: "false", None: ""}[cross]
        assert row["first_overlap_date"] == (first.isoformat() if first else "")
        spelled = dict(item.split("=") for item in row["priority_parts"].split(";"))
        assert spelled.keys() == {k for k, v in parts.items() if v}
        assert all(float(spelled[k]) == pytest.approx(parts[k], rel=1e-5) for k in spelled)
        assert json.loads(parquet[alert_id]["priority_parts"]) == pytest.approx(parts)
        assert parquet[alert_id]["claim_ids_b"] == claims_b


def test_a_long_worklist_is_cut_in_the_report_with_the_true_totals(night, tmp_path, monkeypatch):
    """The report reads only as many alerts to review as it shows; its heading and "N more" line still
    count every alert (compared with counts taken from the warehouse's alert history)."""
    from reports import audit

    result, out, _ = night
    copy = tmp_path / "copy.duckdb"
    shutil.copy(out / "serosurv.duckdb", copy)
    monkeypatch.setattr(audit, "MAX_TIMELINES", 2)
    monkeypatch.setattr(audit, "MAX_TABLE_ROWS", 3)
    monkeypatch.setattr(audit, "ONGOING_TIMELINES", 1)
    con = duckdb.connect(str(copy))
    try:
        (to_review,) = con.execute(
            "SELECT count(*) FROM alert_history WHERE run_id = $r AND (status <> 'resolved' OR severity = "
            "'contraindicated')",
            {"r": result.run_id},
        ).fetchone()
        html = audit.render_report(con, result.run_id)
    finally:
        con.close()
    assert to_review > 2 + 3, "the generated night needs more alerts than the report shows"
    assert f'<h3 id="review">To review ({to_review:,}), most dangerous first</h3>' in html
    assert f"{to_review - 2 - 3:,} more alerts to review in the worklist CSV." in html
    section = re.search(r'<h3 id="review">.*?<h3 id="resolved">', html, re.S).group(0)
    assert section.count('<div class="alert sev-') == 2  # cards with timelines: MAX_TIMELINES (all new)
    assert section.count('href="#alert-') == 3  # then a table of MAX_TABLE_ROWS


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
    for section in (
        "Fragmentation of current alerts",
        "Serotonergic burden",
        "Quarantined rows by reason",
        "Unmapped drugs",
        "Data quality",
        "Rules and parameters",
        "@media print",
    ):
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
    # Each cell of the trend table against the people counted here from the interactions: every true
    # count from 1 to 10 reads "<11" (its number nowhere in the cell), every number shown is the true one.
    truth = _people_by_month_and_severity(out / "serosurv.duckdb")
    shown = {(month, severity): patients for month, severity, patients, *_ in html_table(html, "trend")}
    assert shown.keys() == truth.keys()
    small = {key for key, n in truth.items() if n in SMALL}
    published = {key for key, cell in shown.items() if cell not in (SUPPRESSED, "suppressed")}
    assert small and {key for key in published if truth[key] >= MIN_CELL}, (
        "the night needs small and large cells"
    )
    assert all(shown[key] == SUPPRESSED for key in small), {k: (truth[k], shown[k]) for k in small}
    assert all(int(shown[key].replace(",", "")) == truth[key] for key in published)
    # "<11" only where the count is 1..10; a complement ("suppressed") is never one of them
    assert all(truth[key] in SMALL for key, cell in shown.items() if cell == SUPPRESSED)
    assert all(truth[key] not in SMALL for key, cell in shown.items() if cell == "suppressed")
    data_rows = re.findall(r'"patients": (\d+)', html)
    assert data_rows and all(int(n) == 0 or int(n) >= 11 for n in data_rows)
    assert "vegaEmbed" in html and "cdn.jsdelivr" not in html


def _people_by_month_and_severity(path: Path) -> dict[tuple[str, str], int]:
    """People with an interaction active in each month of 2025, per severity and in all ('any'), counted
    in Python from the interactions table."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        found = con.execute(
            "SELECT patient_id, severity, first_overlap_date, coalesce(last_overlap_date, first_overlap_date) "
            "FROM interactions"
        ).fetchall()
    finally:
        con.close()
    people: dict[tuple[str, str], set[str]] = {}
    for month in range(1, 13):
        first_day = date(2025, month, 1)
        last_day = date(2025 + month // 12, month % 12 + 1, 1)
        label = first_day.isoformat()[:7]
        for severity in (*SEVERITIES, "any"):
            people[(label, severity)] = set()
        for patient, severity, start, end in found:
            if start < last_day and end >= first_day:
                people[(label, severity)].add(patient)
                people[(label, "any")].add(patient)
    return {key: len(members) for key, members in people.items()}


def html_table(html: str, section: str) -> list[list[str]]:
    """The body cells (as text) of the first table after the element with id `section`."""
    start = html.index(f'id="{section}"')
    body = html[start:].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_report_dashboard_command_and_its_errors(night, tmp_path, capsys):
    _, out, _ = night
    assert (
        main(
            [
                "report",
                "dashboard",
                "--from",
                "2025-06-01",
                "--to",
                "2025-12-31",
                "--warehouse",
                str(out / "serosurv.duckdb"),
                "--out",
                str(tmp_path / "d.html"),
            ]
        )
        == 0
    )
    assert (tmp_path / "d.html").is_file()
    assert (
        main(
            [
                "prevalence",
                "--out",
                str(tmp_path / "p.parquet"),
                "--by",
                "sex",
                "--warehouse",
                str(out / "serosurv.duckdb"),
                "--interval",
                "quarter",
            ]
        )
        == 0
    )
    table = pl.read_parquet(tmp_path / "p.parquet")
    assert set(table.get_column("interval")) == {"2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"}
    assert (tmp_path / "p.html").is_file()


# ---------------------------------------------------------------------------- research outputs audit

SMALL = range(1, MIN_CELL)  # counts 1..10: never published


def _published_counts(rows: list[dict]) -> list[int]:
    """Every count a dashboard table publishes (rates and shares are not counts)."""
    return [
        value
        for row in rows
        for key, value in row.items()
        if isinstance(value, int) and not isinstance(value, bool) and not key.startswith(("rate", "share"))
    ]


def test_dashboard_publishes_no_count_from_1_to_10_and_hides_what_would_give_one_away(night):
    _, out, _ = night
    con = duckdb.connect(str(out / "serosurv.duckdb"), read_only=True)
    try:
        data = dashboard_data(con, date(2025, 1, 1), AS_OF, load_rules())
    finally:
        con.close()
    tables = [
        data[k] for k in ("rates", "shares", "pairs", "classes", "prescribers", "pharmacies", "outcomes")
    ]
    counts = [n for rows in tables for n in _published_counts(rows)]
    assert len(counts) > 50 and data["exposed"] not in SMALL
    assert not [n for n in counts if n in SMALL]
    assert any(value == SUPPRESSED for rows in tables for row in rows for value in row.values())
    for row in data["rates"]:  # a rate from a hidden count would give the count back
        assert row["rate_per_1000"] is None or SUPPRESSED not in (row["patients"], row["exposed"])
    for row in data["shares"]:
        for measure in ("cross_prescriber", "cross_pharmacy"):
            assert row[measure] != SUPPRESSED or row[f"share_{measure}"] is None
    months = {r["month"] for r in data["rates"]}
    for month in months:  # people with any interaction = the sum of the severities, as an attacker may assume
        cells = {r["severity"]: r["patients"] for r in data["rates"] if r["month"] == month}
        hidden = {k for k, v in cells.items() if v in (SUPPRESSED, "suppressed")}
        values = {k: 0 if k in hidden else v for k, v in cells.items()}
        relation = [("any", [s for s in cells if s != "any"])]
        assert recoverable(values, relation, hidden) & hidden == set(), (month, cells)


def derivable(hidden: set, relations: list) -> set:
    """The hidden cells an attacker can compute from the published ones through the relations (total =
    sum of parts): a cell is fixed when it is zero in every solution of the relations restricted to the
    hidden cells, i.e. its row of the null space (by SVD, per connected group of hidden cells) is zero.
    tests/test_prevalence.py checks the same exactly, in rationals, on small tables; this scales."""
    rows = [[k for k in (total, *parts) if k in hidden] for total, parts in relations]
    signs = [
        {k: (1.0 if k == total else -1.0) for k in (total, *parts) if k in hidden}
        for total, parts in relations
    ]
    parent = {k: k for k in hidden}

    def root(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for members in rows:
        for k in members[1:]:
            parent[root(k)] = root(members[0])
    groups: dict = {}
    for k in hidden:
        groups.setdefault(root(k), []).append(k)
    found = set()
    for cells in groups.values():
        column = {k: i for i, k in enumerate(cells)}
        matrix = np.array(
            [
                [sign.get(k, 0.0) for k in cells]
                for members, sign in zip(rows, signs, strict=True)
                if members and members[0] in column
            ]
        )
        if not len(matrix):
            continue
        _, singular, vt = np.linalg.svd(matrix)
        rank = int((singular > 1e-9 * max(1.0, singular[0])).sum())
        null_space = vt[rank:]
        found |= {
            k for k, i in column.items() if not null_space.size or np.all(np.abs(null_space[:, i]) < 1e-7)
        }
    return found


def test_derivable_finds_what_exact_elimination_finds():
    values, relations = two_way({("a", "F"): 7, ("a", "M"): 0, ("b", "F"): 12, ("b", "M"): 40})
    for hidden in (
        {("a", "F")},
        {("a", "F"), ("a", "M")},
        {("a", "F"), ("b", "F"), ("a", "M"), ("b", "M")},
        suppress_cells(values, relations),
    ):
        assert derivable(hidden, relations) == recoverable(values, relations, hidden) & hidden
    assert derivable({("a", "F")}, relations) == {("a", "F")}  # one hidden cell of a row: given away


def _relations(part: pl.DataFrame, column: str, classes: dict[str, str], complete: bool) -> list:
    """The additive relations an attacker can use within one interval: each margin of a row is the sum
    of its strata; for numerators of a complete table (every pair seen is a row), "any interacting pair"
    and each class pair are (assumed to be) the sum of their ingredient pairs."""
    keys = {(r["pair"], r["age_band"], r["sex"]) for r in part.iter_rows(named=True)}
    labels = {k[0] for k in keys}
    ages = sorted({k[1] for k in keys} - {"all"})
    sexes = sorted({k[2] for k in keys} - {"all"})
    relations = []
    for label in labels:
        for sex in ["all", *sexes]:
            parts = [(label, a, sex) for a in ages if (label, a, sex) in keys]
            if parts and (label, "all", sex) in keys:
                relations.append(((label, "all", sex), parts))
        for age in ["all", *ages]:
            parts = [(label, age, s) for s in sexes if (label, age, s) in keys]
            if parts and (label, age, "all") in keys:
                relations.append(((label, age, "all"), parts))
    kinds = dict(part.select("pair", "row_type").unique().iter_rows())
    pairs = [label for label in labels if kinds[label] == "pair"]
    if column == "numerator" and complete:
        for age, sex in {(k[1], k[2]) for k in keys}:
            relations.append((("any interacting pair", age, sex), [(p, age, sex) for p in pairs]))
            for label in labels:
                if kinds[label] == "class_pair":
                    members = [
                        p
                        for p in pairs
                        if " + ".join(
                            sorted((classes[p.split(" + ")[0]], classes[p.split(" + ")[1]]), key=str.lower)
                        )
                        == label
                    ]
                    if members:
                        relations.append(((label, age, sex), [(p, age, sex) for p in members]))
    return relations


@pytest.mark.parametrize(
    "options",
    [
        {"interval": "month"},
        {"interval": "quarter", "by": ["age_band", "sex"], "pairs": ["tramadol+sertraline", "SSRI+MAOI"]},
        {"interval": "year", "denominator": "members", "by": ["sex"]},
        {"interval": "quarter", "measure": "point", "denominator": "users_of:SSRI", "by": ["sex"]},
    ],
    ids=["month", "quarter-age-sex", "year-members", "point-ssri-users"],
)
def test_prevalence_publishes_no_count_from_1_to_10_and_no_suppressed_cell_can_be_derived(
    night, tmp_path, options
):
    _, out, _ = night
    written = api.prevalence(tmp_path / "prevalence.parquet", warehouse=out / "serosurv.duckdb", **options)
    table = pl.read_parquet(written.table)
    assert table.height > 20 and table.get_column("suppressed").any()
    for column in ("numerator", "denominator"):
        shown = table.get_column(column).drop_nulls()
        assert shown.len() and not shown.is_in(list(SMALL)).any(), column
        assert (
            table.filter(pl.col(f"{column}_suppressed")).get_column(column).null_count()
            == table.filter(pl.col(f"{column}_suppressed")).height
        )
    both = table.drop_nulls(["numerator", "denominator"])
    assert not (both["denominator"] - both["numerator"]).is_in(list(SMALL)).any()  # people without it, too
    assert (
        table.filter(pl.col("suppressed")).get_column("estimate").null_count()
        == table.get_column("suppressed").sum()
    )
    classes = {name: agent.drug_class for name, agent in load_rules().agents.items()}
    for (interval,), part in table.group_by(["interval"]):
        for column in ("numerator", "denominator"):
            cells = {(r["pair"], r["age_band"], r["sex"]): r[column] for r in part.iter_rows(named=True)}
            hidden = {k for k, v in cells.items() if v is None}
            found = derivable(hidden, _relations(part, column, classes, "pairs" not in options))
            assert not found, (interval, column, sorted(found)[:3])
    summary = written.summary.read_text(encoding="utf-8").split("<h2>Parameters")[0]
    shown = [int(n.replace(",", "")) for n in re.findall(r"<td[^>]*>([\d,]+)</td>", summary)]
    assert not [n for n in shown if n in SMALL]


# ---------------------------------------------------------------------------- real browser


def render(page: Path, screenshot: Path, tmp_path: Path, fragment: str = "") -> tuple[str, list[str]]:
    """The DOM after scripts ran, and every console line, from headless Chromium with no network; a
    `fragment` ("#filter:...") is put on the page's address, as a bookmarked filtered view."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (CI installs Debian's chromium in .ci/run)")
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=15000",
        "--window-size=1280,2000",
        # no network: every host resolves nowhere
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
    ]
    url = page.resolve().as_uri() + fragment
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


# ---------------------------------------------------------------------------- planted cells and settings


def _planted_warehouse(con, parameters: dict | None = None) -> None:
    """30 people exposed January to March 2025. February: 12 with a major interaction. March: 15 major
    and 4 moderate (a small cell; its complement is the major one). A cross-prescriber interaction names
    a prescriber whose id is markup. `parameters` are the night's recorded settings."""
    con.execute(
        "INSERT INTO runs BY NAME SELECT 'r1' AS run_id, DATE '2025-03-31' AS as_of, 'success' AS status, "
        "now()::TIMESTAMP AS finished_at, 'cfg' AS config_hash, 'rules' AS rules_hash, $p AS parameters",
        {"p": json.dumps(parameters or {})},
    )
    people = [f"P{i:02d}" for i in range(30)]
    for patient in people:
        con.execute(
            "INSERT INTO episodes BY NAME SELECT $p || 's' AS episode_id, $p AS patient_id, "
            "'sertraline' AS ingredient, DATE '2025-01-01' AS episode_start, DATE '2025-03-31' AS episode_end",
            {"p": patient},
        )
    planted = [(p, "major", 3, "2025-02-01", "2025-02-10") for p in people[:12]]
    planted += [(p, "major", 3, "2025-03-01", "2025-03-10") for p in people[12:27]]
    planted += [(p, "moderate", 2, "2025-03-01", "2025-03-05") for p in people[:4]]
    for n, (patient, severity, rank, first, last) in enumerate(planted):
        con.execute(
            "INSERT INTO interactions BY NAME SELECT $i AS interaction_id, $p AS patient_id, "
            "'sertraline' AS ingredient_a, 'tramadol' AS ingredient_b, 'overlap' AS kind, $s AS severity, "
            "$r AS severity_rank, $f::DATE AS first_overlap_date, $l::DATE AS last_overlap_date, "
            "$n = 0 AS cross_prescriber, false AS cross_pharmacy, ['<b>PR1</b>'] AS prescriber_ids_a, "
            "['PR2'] AS prescriber_ids_b",
            {"i": f"I{n}", "p": patient, "s": severity, "r": rank, "f": first, "l": last, "n": n},
        )


def _planted_dashboard(warehouse, parameters: dict | None = None) -> tuple[dict, str]:
    from reports.dashboard import render_dashboard

    _planted_warehouse(warehouse, parameters)
    data = dashboard_data(warehouse, date(2025, 1, 1), date(2025, 3, 31), load_rules())
    html = render_dashboard(data)
    return {(m, s): (n, rate) for m, s, n, _, rate in html_table(html, "trend")}, html


def test_dashboard_shows_a_planted_small_cell_as_suppressed_and_a_large_one_as_its_number(warehouse):
    trend, html = _planted_dashboard(warehouse)
    assert trend[("2025-03", "moderate")] == ("<11", "unknown")  # 4 people: hidden, rate left out
    # 15: hidden too, or 19 - 15 gives the 4 away; shown as what it is, a complement, never as "<11"
    assert trend[("2025-03", "major")] == ("suppressed", "unknown")
    assert trend[("2025-03", "any")] == ("19", "633.3")  # people with any interaction: 19 of 30 exposed
    assert trend[("2025-02", "major")] == ("12", "400.0") and trend[("2025-02", "any")] == ("12", "400.0")
    assert trend[("2025-03", "contraindicated")] == ("0", "0.0")  # zero is a result: shown
    assert "Counts of 1–10 are shown as “&lt;11”" in html
    assert "<b>PR1</b>" not in html and "&lt;b&gt;PR1&lt;/b&gt;" in html  # an id from the claims, escaped


@pytest.mark.parametrize(
    ("min_cell", "moderate", "major", "february", "words"),
    [(5, "<5", "suppressed", "12", "1–4"), (3, "4", "15", "12", "1–2"), (20, "<20", "<20", "<20", "1–19")],
)
def test_the_configured_minimum_cell_size_sets_the_dashboards_marks_and_words(
    warehouse, min_cell, moderate, major, february, words
):
    trend, html = _planted_dashboard(warehouse, {"research": {"min_cell_count": min_cell}})
    assert trend[("2025-03", "moderate")][0] == moderate and trend[("2025-03", "major")][0] == major
    assert trend[("2025-02", "major")][0] == february
    assert f"Counts of {words} are shown as “&lt;{min_cell}”" in html and "&lt;11" not in html
    if min_cell == 20:  # nothing left to draw in the prescribers' chart: the sentence names the setting
        assert "Every count here is under 20 (shown as “&lt;20”), so there is nothing to draw." in html


def test_audit_report_explains_priority_with_the_weights_the_night_ran_with(night, tmp_path):
    """The weights of [alerts.priority] in the night's configuration (recorded with the run) are the ones
    the report's explanation gives; the defaults give the README's."""
    from reports.audit import render_report
    from serosurv.core.config import load_config

    result, out, _ = night
    default = (out / str(AS_OF) / "report.html").read_text(encoding="utf-8")
    assert (
        "Priority =\nseverity first (100 points per level: contraindicated 400 … minor 100), then different "
        "prescribers +20, different pharmacies +10, recent fill +5 within 7 days of the night (+2 within 30), "
        "overlap length up to +5 (in proportion, full at 30 days), 3+ serotonergic prescribers +2." in default
    )
    custom = tmp_path / "custom.toml"
    custom.write_text(
        "[alerts.priority]\nseverity = 200\ncross_prescriber = 30\nrecent_month = 0\nburden = 0\n"
    )
    copy = tmp_path / "copy.duckdb"
    shutil.copy(out / "serosurv.duckdb", copy)
    con = duckdb.connect(str(copy))
    try:
        con.execute(
            "UPDATE runs SET parameters = $p WHERE run_id = $r",
            {"p": json.dumps(load_config(custom).to_dict()), "r": result.run_id},
        )
        html = render_report(con, result.run_id)
    finally:
        con.close()
    explained = html.split("Priority =", 1)[1].split("</p>", 1)[0]
    assert "(200 points per level: contraindicated 800 … minor 200)" in explained
    assert "different prescribers +30" in explained and "+20" not in explained
    assert "recent fill +5 within 7 days of the night." not in explained  # no "+2 within 30" any more
    assert "recent fill +5 within 7 days of the night," in explained
    assert "serotonergic prescribers" not in explained  # weighted 0: not a part of priority


def test_text_from_the_input_is_escaped_in_the_audit_report(night, tmp_path):
    """Autoescaping: a drug name and a prescriber id from the claims that are markup show as text."""
    from reports.audit import render_report

    result, out, _ = night
    copy = tmp_path / "copy.duckdb"
    shutil.copy(out / "serosurv.duckdb", copy)
    con = duckdb.connect(str(copy))
    try:
        con.execute(
            "INSERT INTO unmapped_drugs VALUES ($r, '<script>alert(\"drug\")</script>', NULL, 99999, 1)",
            {"r": result.run_id},
        )
        (patient,) = con.execute(
            "SELECT patient_id FROM alert_history WHERE run_id = $r AND status = 'new' ORDER BY priority DESC "
            "LIMIT 1",
            {"r": result.run_id},
        ).fetchone()
        con.execute(
            "UPDATE fill_exposure SET prescriber_id = '<i>x</i>' WHERE patient_id = $p", {"p": patient}
        )
        html = render_report(con, result.run_id)
    finally:
        con.close()
    assert html.count("<script") == 1 and "<script>\n// The filters of a report page" in html  # ours only
    assert "<script>alert(" not in html and "&lt;script&gt;alert(&#34;drug&#34;)&lt;/script&gt;" in html
    assert "<i>x</i>" not in html and "&lt;i&gt;x&lt;/i&gt; · " in html  # the timeline's fill label


# ---------------------------------------------------------------------------- issue 19: trust


def summary_sections(html: str) -> dict[str, list[list[str]]]:
    """The prevalence summary's tables by the row (pair) they show: cells as text."""
    found = {}
    for label, body in re.findall(
        r'<details class="prevalence-row" data-row="([^"]*)"[^>]*>(.*?)</details>', html, re.S
    ):
        rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)
        found[unescape(label)] = [
            [unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in rows
        ]
    return found


@pytest.mark.parametrize(
    "options",
    [
        {"interval": "quarter", "by": ["age_band", "sex"], "denominator": "users_of:SSRI"},
        {
            "interval": "quarter",
            "pairs": ["tramadol+SSRI"],
            "denominator": "users_of:tramadol",
            "by": ["sex"],
        },
    ],
    ids=["ssri-users-age-sex", "tramadol-ssri"],
)
def test_prevalence_csv_parquet_and_summary_agree_and_the_summary_says_what_was_asked(
    night, tmp_path, options
):
    _, out, _ = night
    csv_files = api.prevalence(tmp_path / "p.csv", warehouse=out / "serosurv.duckdb", **options)
    parquet_files = api.prevalence(tmp_path / "q.parquet", warehouse=out / "serosurv.duckdb", **options)
    from_csv = pl.read_csv(csv_files.table, infer_schema_length=None)
    from_parquet = pl.read_parquet(parquet_files.table)
    columns = ["interval", "stratum", "pair", "numerator", "denominator", "estimate", "numerator_suppression"]
    assert from_csv.select(columns).to_dicts() == from_parquet.select(columns).to_dicts()
    html = csv_files.summary.read_text(encoding="utf-8")
    sections = summary_sections(html)
    assert set(sections) == set(from_csv.get_column("pair"))  # every row of the table is on the page
    shown = {(label, r[0], r[1]): r[2:5] for label, rows in sections.items() for r in rows}
    assert len(shown) == from_csv.height
    for r in from_csv.iter_rows(named=True):
        numerator, denominator, estimate = shown[(r["pair"], r["interval"], r["stratum"])]
        for cell, value, kind in (
            (numerator, r["numerator"], r["numerator_suppression"]),
            (denominator, r["denominator"], r["denominator_suppression"]),
        ):
            expected = {"primary": "<11", "complementary": "suppressed"}.get(
                kind, f"{value:,}" if value is not None else ""
            )
            assert cell == expected, (r["pair"], r["interval"], r["stratum"], cell, value, kind)
        if r["estimate"] is not None:
            assert estimate == f"{100 * r['estimate']:.2f}%"
        else:
            assert estimate in ("suppressed", "no one in the denominator")
    # what was asked, in words: the strata, the pair or class, the denominator
    strata = re.search(r'id="asked-strata">(.*?)</td>', html).group(1)
    assert ("age band and sex" in strata) == ("age_band" in options["by"]) and "sex" in strata
    denominator = re.search(r'id="asked-denominator">(.*?)</td>', html).group(1)
    drug = options["denominator"].split(":")[1]
    assert f"users of {'any ' if drug == 'SSRI' else ''}{drug}" in denominator
    title = re.search(r"<h1>(.*?)</h1>", html).group(1)
    assert "any interacting combination" not in title
    if "pairs" in options:
        assert "tramadol+SSRI" in title and "SSRI + tramadol" in sections
        row = from_csv.filter((pl.col("pair") == "SSRI + tramadol") & (pl.col("stratum") == "all")).row(
            0, named=True
        )
        assert row["row_type"] == "class_pair" and 'data-row="SSRI + tramadol" open' in html


def test_primary_cells_read_lt11_and_complements_suppressed_against_the_unsuppressed_table(night, tmp_path):
    """Against the same table with min_cell 1 (nothing hidden): every '<11' is a true 1..10, every
    'suppressed' is a count that is not, and the overall total with strata is the figure without them."""
    from transforms.prevalence import PrevalenceSpec, prevalence_table

    _, out, _ = night
    con = duckdb.connect(str(out / "serosurv.duckdb"), read_only=True)
    try:
        spec = dict(interval="quarter", denominator="users_of:SSRI", by=("age_band", "sex"))
        truth = prevalence_table(con, PrevalenceSpec(min_cell=1, **spec), load_rules())
        table = prevalence_table(con, PrevalenceSpec(**spec), load_rules())
        plain = prevalence_table(
            con, PrevalenceSpec(interval="quarter", denominator="users_of:SSRI"), load_rules()
        )
    finally:
        con.close()
    key = ["interval", "pair", "stratum"]
    joined = table.join(truth.select(*key, pl.col("numerator").alias("true_n")), on=key)
    kinds = joined.group_by("numerator_suppression").agg(
        pl.col("true_n").min().alias("lo"), pl.col("true_n").max().alias("hi")
    )
    bounds = {k: (lo, hi) for k, lo, hi in kinds.iter_rows()}
    assert bounds["primary"][0] >= 1 and bounds["primary"][1] <= 10
    assert "complementary" in bounds
    assert (
        joined.filter(pl.col("numerator_suppression") == "complementary")
        .get_column("true_n")
        .is_in(list(SMALL))
        .sum()
        == 0
    )
    overall = table.filter((pl.col("pair") == "any interacting pair") & (pl.col("stratum") == "all"))
    no_strata = plain.filter(pl.col("pair") == "any interacting pair")
    assert (
        overall.select("interval", "numerator", "denominator").to_dicts()
        == no_strata.select("interval", "numerator", "denominator").to_dicts()
    )
    assert overall.get_column("numerator").null_count() == 0  # the total is never the complement here


def _actions(con, night_date: str, acted_at: str, n: int) -> None:
    for i in range(n):
        con.execute(
            "INSERT INTO alert_actions BY NAME SELECT $i AS action_id, $a AS alert_id, $t::TIMESTAMP AS acted_at, "
            "'ph' AS operator, $d::DATE AS night, 'new' AS status_at_action, 'M0' AS action_code, "
            "'1B' AS result_code",
            {"i": f"X{i}", "a": f"A{i}", "t": acted_at, "d": night_date},
        )


def test_dashboard_compares_periods_counts_outcomes_by_night_and_says_when_months_have_no_data(
    warehouse, tmp_path
):
    from reports.dashboard import write_dashboard, write_tables

    _planted_warehouse(warehouse)
    # three actions recorded on the night of 31 March 2025, typed in on a later clock day
    _actions(warehouse, "2025-03-31", "2026-02-01 09:00", 3)
    data = dashboard_data(warehouse, date(2025, 1, 1), date(2025, 5, 31), load_rules())
    assert [r["alerts"] for r in data["outcomes"]] == ["<11"]  # 3 alerts: counted, and small
    assert data["no_data_months"] == ["2025-04 to 2025-05"]
    march = dashboard_data(warehouse, date(2025, 1, 1), date(2025, 3, 31), load_rules())
    side = {r["measure"]: r for r in march["comparison"]}
    # Q1 2025 by hand: 30 exposed; major 12 (Feb) + 15 (Mar) = 27 people; moderate 4 (of the February 12);
    # any 27. The 4 is "<11", and the major 27 its complement ("suppressed"); "any" stays published.
    assert side["people exposed"]["2025-Q1"] == 30
    assert side["people with a moderate interaction"]["2025-Q1"] == "<11"
    assert side["people with a major interaction"]["2025-Q1"] == "suppressed"
    assert side["people with any interaction"]["2025-Q1"] == "27 · 900.0 per 1,000"
    assert side["people with any interaction"]["2024-Q4"] == "no data"
    assert side["people exposed"]["2024"] == "no data"
    page = write_dashboard(march, tmp_path / "d.html").read_text(encoding="utf-8")
    assert "provider_id" not in page and "prescriber (pseudonymous id)" in page
    assert "2025-Q1 (2025-01-01 to 2025-03-31)" in page and "2024-Q4 (2024-10-01 to 2024-12-31)" in page
    files = write_tables(march, tmp_path / "tables")
    assert {f.name for f in files} >= {"comparison.csv", "trend.csv", "pharmacies.csv", "outcomes.csv"}
    with (tmp_path / "tables" / "comparison.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["measure"] == "people exposed" and rows[0]["2025-Q1 (2025-01-01 to 2025-03-31)"] == "30"
    with (tmp_path / "tables" / "trend.csv").open(encoding="utf-8") as handle:
        trend = {(r["month"], r["severity"]): r for r in csv.DictReader(handle)}
    assert trend[("2025-03", "moderate")]["people with an interaction"] == "<11"
    assert trend[("2025-03", "major")]["people with an interaction"] == "suppressed"
    assert trend[("2025-03", "any")]["per 1,000 people exposed"] == "633.33"


def test_dashboard_and_prevalence_refuse_what_they_cannot_do_in_one_sentence(night, tmp_path, capsys):
    _, out, _ = night
    warehouse = str(out / "serosurv.duckdb")
    cases = [
        (
            [
                "report",
                "dashboard",
                "--from",
                "2025-01-01",
                "--to",
                "2025-12-31",
                "--out",
                str(tmp_path / "d.pdf"),
            ],
            "--out must end in .html, not 'd.pdf'",
        ),
        (
            [
                "report",
                "dashboard",
                "--from",
                "2030-01-01",
                "--to",
                "2030-12-31",
                "--out",
                str(tmp_path / "e.html"),
            ],
            "No one was exposed to a serotonergic drug between 2030-01-01 and 2030-12-31",
        ),
        (
            ["report", "dashboard", "--from", "2025-06-01", "--to", "2025-01-01"],
            "--to 2025-01-01 must not be before --from 2025-06-01",
        ),
        (["report", "dashboard", "--from", "2025-02-30", "--to", "2025-03-01"], "'2025-02-30' is not a date"),
        (
            ["prevalence", "--from", "2030-01-01", "--out", str(tmp_path / "p.csv")],
            "--from 2030-01-01 is after the warehouse's data, which ends on 2025-12-31",
        ),
        (
            ["prevalence", "--to", "2001-01-01", "--out", str(tmp_path / "p.csv")],
            "--to 2001-01-01 is before the warehouse's first claim",
        ),
        (
            ["prevalence", "--denominator", "users_of:nosuchdrug", "--out", str(tmp_path / "p.csv")],
            "--denominator users_of: 'nosuchdrug' is neither a drug",
        ),
        (
            ["prevalence", "--pairs", "zoloft+aspirin", "--out", str(tmp_path / "p.csv")],
            "--pairs: 'aspirin' is neither a drug",
        ),
        (
            ["prevalence", "--by", "race", "--out", str(tmp_path / "p.csv")],
            "--by takes age_band and sex, not 'race'",
        ),
        (["prevalence", "--interval", "week", "--out", str(tmp_path / "p.csv")], "invalid choice: 'week'"),
        (["prevalence", "--out", str(tmp_path / "p.xlsx")], "--out must end in .csv or .parquet"),
    ]
    for argv, sentence in cases:
        capsys.readouterr()
        assert main([*argv, "--warehouse", warehouse]) == 2, argv
        err = capsys.readouterr().err
        message = [line for line in err.splitlines() if line.startswith("serosurv: error:")]
        assert len(message) == 1 and sentence in message[0], (argv, err)
        assert "internal error" not in err and "Exception" not in err
    assert not (tmp_path / "d.pdf").exists() and not (tmp_path / "e.html").exists()


def test_brand_names_and_classes_are_accepted_wherever_drugs_are_named(night, tmp_path, capsys):
    _, out, _ = night
    brand = api.prevalence(
        tmp_path / "b.csv",
        warehouse=out / "serosurv.duckdb",
        interval="year",
        pairs=["zoloft+ultram"],
        denominator="users_of:zoloft",
    )
    plain = api.prevalence(
        tmp_path / "g.csv",
        warehouse=out / "serosurv.duckdb",
        interval="year",
        pairs=["sertraline+tramadol"],
        denominator="users_of:sertraline",
    )
    columns = ["interval", "pair", "numerator", "denominator", "estimate"]
    assert (
        pl.read_csv(brand.table).select(columns).to_dicts()
        == pl.read_csv(plain.table).select(columns).to_dicts()
    )
    assert "users of sertraline (zoloft)" in brand.summary.read_text(encoding="utf-8")
    classes = api.prevalence(
        tmp_path / "c.csv",
        warehouse=out / "serosurv.duckdb",
        interval="year",
        pairs=["ssri+opioid_serotonergic"],
    )
    assert "opioid_serotonergic + SSRI" in set(pl.read_csv(classes.table).get_column("pair"))


def test_help_texts_print_percent_signs_once(capsys):
    for argv in (
        ["--help"],
        ["prevalence", "--help"],
        ["report", "dashboard", "--help"],
        ["report", "--help"],
    ):
        with pytest.raises(SystemExit):
            main(argv)
        printed = capsys.readouterr().out
        assert "%%" not in printed, argv
    with pytest.raises(SystemExit):
        main(["prevalence", "--help"])
    assert "95%" in capsys.readouterr().out


def test_point_prevalence_at_the_start_of_the_data_is_marked_left_censored(night, tmp_path, capsys):
    _, out, _ = night
    assert (
        main(
            [
                "prevalence",
                "--measure",
                "point",
                "--interval",
                "quarter",
                "--warehouse",
                str(out / "serosurv.duckdb"),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "Warning: 2025-Q1 start(s) fewer than 90 days after the warehouse's first claim" in printed
    table = pl.read_csv(tmp_path / "p.csv")
    censored = dict(table.select("interval", "left_censored").unique().iter_rows())
    assert censored == {"2025-Q1": True, "2025-Q2": False, "2025-Q3": False, "2025-Q4": False}
    assert 'id="left-censored"' in (tmp_path / "p.html").read_text(encoding="utf-8")


ITEM = re.compile(
    r'<(?:div|tr) class="[^"]*\bitem\b[^"]*"[^>]*?data-severity="([^"]*)" data-status="([^"]*)" '
    r'data-patient="([^"]*)" data-drugs="([^"]*)" data-prescribers="([^"]*)" data-pharmacies="([^"]*)"([^>]*)>'
)


def items(dom: str) -> list[dict]:
    """Every filterable card or row of a page's DOM: its filter keys and whether it is hidden."""
    return [
        {
            "severity": m[0],
            "status": m[1],
            "patient": m[2],
            "drugs": m[3].split(),
            "prescribers": m[4].split(),
            "pharmacies": m[5].split(),
            "hidden": " hidden" in m[6],
        }
        for m in ITEM.findall(dom)
    ]


def test_the_reports_filters_work_offline_in_chromium_and_match_the_warehouse(night, tmp_path):
    """The night's report opened with a bookmarked filter (#filter:severity=...&prescriber=...): Chromium
    shows exactly the cards and rows of that severity that name a prescriber containing the text, and hides
    the rest; and every card's prescribers are those the warehouse recorded for its alert."""
    result, out, _ = night
    page = out / str(AS_OF) / "report.html"
    html = page.read_text(encoding="utf-8")
    every = items(html)
    assert every and not any(i["hidden"] for i in every)
    con = duckdb.connect(str(out / "serosurv.duckdb"), read_only=True)
    try:
        recorded = {
            alert_id: sorted({*a, *b})
            for alert_id, a, b in con.execute(
                "SELECT alert_id, prescriber_ids_a, prescriber_ids_b FROM alert_history WHERE run_id = $r",
                {"r": result.run_id},
            ).fetchall()
        }
    finally:
        con.close()
    cards = re.findall(
        r'id="alert-([0-9a-f]+)" data-severity="[^"]*" data-status="[^"]*" data-patient="[^"]*" '
        r'data-drugs="[^"]*" data-prescribers="([^"]*)"',
        html,
    )
    assert cards and all(prescribers.split() == recorded[alert_id] for alert_id, prescribers in cards)
    # a prescriber on some items of the most common severity, but not all of them
    severity = max({i["severity"] for i in every}, key=lambda s: sum(i["severity"] == s for i in every))
    of_severity = [i for i in every if i["severity"] == severity]
    counts: dict[str, int] = {}
    for i in of_severity:
        for p in set(i["prescribers"]):
            counts[p] = counts.get(p, 0) + 1
    prescriber = max((p for p, n in counts.items() if n < len(of_severity)), key=lambda p: (counts[p], p))
    text = prescriber[1:].lower()  # part of the id, in another case: the filter matches ids containing it
    expected = [i["severity"] == severity and any(text in p.lower() for p in i["prescribers"]) for i in every]
    dom, console = render(
        page,
        SCREENSHOTS / "audit-report-filtered.png",
        tmp_path,
        f"#filter:severity={severity}&prescriber={text}",
    )
    assert console == []
    shown = items(dom)
    assert len(shown) == len(every)
    assert [not i["hidden"] for i in shown] == expected and 0 < sum(expected) < len(every)
    assert f'data-shown="{sum(expected)}"' in dom
    assert f"showing {sum(expected)} of {len(every)} alerts" in dom
    # the first page: the summary, what changed since the last night, the top alerts, then the worklist
    assert (
        dom.index('id="first-page"')
        < dom.index('id="changes"')
        < dom.index('id="top"')
        < dom.index('id="review"')
    )


def test_a_first_night_names_the_earlier_interactions_no_worklist_shows(prefect_harness, tmp_path):
    """A warehouse's first night over a long history: an interaction that ended months before the night is
    on no worklist ([alerts] lookback_days), and the first page says how many there are, how severe, and
    how to review them, instead of a bare '0 new'."""

    claims = write_csv(
        tmp_path / "claims.csv",
        "claim_id,patient_id,fill_date,days_supply,drug_name,prescriber_id,pharmacy_id",
        "C1,P1,2025-01-01,30,sertraline 50 mg,D1,PH1",
        "C2,P1,2025-01-05,10,tramadol 50 mg,D2,PH1",
        "C3,P2,2025-06-29,30,sertraline 50 mg,D1,PH1",
    )
    result = api.run(
        [claims], as_of=date(2025, 6, 30), out_dir=tmp_path / "out", warehouse=tmp_path / "w.duckdb"
    )
    page = result.reports["report"].read_text(encoding="utf-8")
    assert result.counts.get("alerts_new", 0) == 0
    assert "1 earlier interaction(s) are on no worklist" in page
    assert "more than 30 days before this night ([alerts] lookback_days), 1 moderate" in page
    assert "serosurv audit --from 2025-01-05 --to 2025-06-30" in page


def test_the_night_before_is_the_last_run_even_without_alerts_and_a_backfill_says_later_nights_exist(
    prefect_harness, tmp_path
):
    """'What changed since' compares with the last successful night, even one without alerts (it has no
    alert_history rows); a night run before an existing one (a backfill out of date order) does not call
    itself the warehouse's first night."""
    warehouse, out = tmp_path / "w.duckdb", tmp_path / "out"
    header = "claim_id,patient_id,fill_date,days_supply,drug_name,prescriber_id,pharmacy_id"
    quiet = write_csv(tmp_path / "quiet.csv", header, "C1,P1,2025-02-01,30,sertraline 50 mg,D1,PH1")
    api.run([quiet], as_of=date(2025, 3, 1), out_dir=out, warehouse=warehouse)
    busy = write_csv(
        tmp_path / "busy.csv",
        header,
        "C2,P2,2025-06-01,30,sertraline 50 mg,D1,PH1",
        "C3,P2,2025-06-20,10,tramadol 50 mg,D2,PH2",
    )
    result = api.run([busy], as_of=date(2025, 6, 30), out_dir=out, warehouse=warehouse)
    page = result.reports["report"].read_text(encoding="utf-8")
    assert result.counts.get("alerts_new") == 1
    assert "What changed since the night of 2025-03-01" in page and "first night" not in page
    assert "0 alert(s) were open on the night of 2025-03-01" in page
    early = write_csv(tmp_path / "early.csv", header, "C4,P3,2025-01-10,30,sertraline 50 mg,D1,PH1")
    result = api.run([early], as_of=date(2025, 1, 31), out_dir=out, warehouse=warehouse)
    page = result.reports["report"].read_text(encoding="utf-8")
    assert "no earlier night in this warehouse (it already holds later nights, from 2025-03-01)" in page
    assert "first night" not in page
