"""The nightly audit report (one self-contained HTML file) and the worklist (CSV and Parquet), for
pharmacists.

Presentation only: everything shown is read from the warehouse tables of the night. Files are written
under a `.tmp` name; the flow moves them into place after the warehouse commit. The report stays fast
with thousands of alerts: timelines are drawn for new and changed alerts (up to `MAX_TIMELINES`) and
the top `ONGOING_TIMELINES` ongoing ones, from two batched queries, never one query per alert.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from reports.html import BASE_CSS, Raw, cards, severity_badge, table
from reports.timeline import timeline_svg
from serosurv.core.warehouse import rows
from transforms.sql import sql_literal, sql_text

STATUS_ORDER = ("new", "changed", "ongoing", "resolved")
MAX_TIMELINES = 1000  # new and changed alerts drawn with a timeline (the rest are listed in the table)
ONGOING_TIMELINES = 25  # top ongoing alerts by priority drawn with a timeline
MAX_TABLE_ROWS = 500  # per status; the CSV and Parquet worklists have everything
TIMELINE_MARGIN_DAYS = 180  # fills and episodes this far around the interaction window are drawn
LOOKBACK_DAYS = 30  # burden periods shown: those reaching this close to the night

WORKLIST_COLUMNS = (
    "alert_id", "status", "unreviewed", "status_reasons", "quiet", "priority", "priority_parts", "severity", "patient_id",
    "ingredient_a", "ingredient_b", "rule_id", "kind", "first_overlap_date", "last_overlap_date",
    "overlap_days", "longest_overlap_days", "washout_gap_days", "initiation_order", "cross_prescriber",
    "cross_pharmacy", "prescriber_ids_a", "prescriber_ids_b", "pharmacy_ids_a", "pharmacy_ids_b",
    "n_serotonergic_prescribers", "claim_ids_a", "claim_ids_b", "reason_for_service", "clinical_significance",
    "other_prescriber_indicator", "other_pharmacy_indicator", "opened_on", "last_change_on", "guidance",
    "as_of", "run_id", "rules_hash", "config_hash", "approximate_names",
)  # fmt: skip
PRIORITY_PARTS = (
    ("severity", "severity"), ("cross_prescriber", "different prescribers"),
    ("cross_pharmacy", "different pharmacies"), ("washout", "washout (no longer scored)"), ("recency", "recent fill"),
    ("overlap", "overlap length"), ("burden", "3+ serotonergic prescribers"),
)  # fmt: skip

CSS = (
    BASE_CSS
    + """
.alert{border:1px solid #d0d7de;border-left:5px solid #57606a;border-radius:.3rem;padding:.5rem .8rem;
margin:.7rem 0;break-inside:avoid;page-break-inside:avoid}
.alert.sev-contraindicated{border-left-color:#a40e26}.alert.sev-major{border-left-color:#c2410c}
.alert.sev-moderate{border-left-color:#9a6700}
.alert .head{display:flex;gap:.6rem;align-items:baseline;flex-wrap:wrap}
.alert .head .pair{font-weight:600;font-size:1rem}
.alert dl{display:grid;grid-template-columns:13rem 1fr;gap:.1rem .6rem;margin:.3rem 0;font-size:.82rem}
.alert dt{color:#57606a}.alert dd{margin:0}
.status{font-weight:700;text-transform:uppercase;font-size:.72rem;letter-spacing:.04em}
.status.new{color:#a40e26}.status.changed{color:#c2410c}
svg.timeline{max-width:100%;height:auto;display:block;margin-top:.3rem}
pre{white-space:pre-wrap;font-size:.8rem}
@media print{body{margin:0;padding:0 .4cm;max-width:none;font-size:10pt}nav{display:none}
h2{page-break-after:avoid}tr{page-break-inside:avoid}.alert{box-shadow:none}
a{color:inherit;text-decoration:none}}
@page{size:A4;margin:1.2cm}
"""
)


# ---------------------------------------------------------------------------- queries


def _run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    cursor = con.execute("SELECT * FROM runs WHERE run_id = $r", {"r": run_id})
    names = [d[0] for d in cursor.description]
    found = cursor.fetchall()
    return dict(zip(names, found[0], strict=True)) if found else {"run_id": run_id}


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _stage_worklist(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: date | None, unreviewed_rank: int
) -> None:
    """The night's worklist (sql/marts/worklist.sql) as the temp table `report_worklist`, computed once
    for the report's parts and the worklist files."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE report_worklist AS {sql_text('marts/worklist.sql')}",
        {"run_id": run_id, "as_of": as_of, "unreviewed_rank": unreviewed_rank},
    )


def _unreviewed_rank(info: dict[str, Any]) -> int:
    """The night's `alerts.keep_unreviewed_resolved` as a severity rank."""
    from serosurv.core.config import AlertConfig

    try:
        settings = json.loads(info.get("parameters") or "{}").get("alerts", {})
    except ValueError:
        settings = {}
    kept = settings.get("keep_unreviewed_resolved", AlertConfig.keep_unreviewed_resolved)
    return AlertConfig(keep_unreviewed_resolved=kept).unreviewed_min_rank


_GROUP = (
    "CASE WHEN quiet THEN 'quiet' WHEN status <> 'resolved' OR unreviewed THEN 'review' ELSE 'resolved' END"
)


def _worklist(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The night's alerts in worklist order (most dangerous first): of each group (to review, resolved,
    quiet) only as many as the report can show (the files have every alert)."""
    return _dicts(
        con,
        f"SELECT *, {_GROUP} AS report_group FROM report_worklist QUALIFY row_number() OVER "
        f"(PARTITION BY {_GROUP} ORDER BY position) <= $shown ORDER BY position",
        {"shown": MAX_TIMELINES + MAX_TABLE_ROWS},
    )


def _totals(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, bool], int]:
    """(status, quiet) -> alerts, over the whole worklist; ('unreviewed', False) counts the resolved
    alerts kept on the worklist because nobody reviewed them."""
    found = rows(
        con, "SELECT status, quiet, count(*) FROM report_worklist WHERE NOT carried_over GROUP BY ALL"
    )
    totals = {(status, quiet): n for status, quiet, n in found}
    totals[("unreviewed", False)] = rows(
        con, "SELECT count(*) FROM report_worklist WHERE unreviewed AND NOT quiet"
    )[0][0]
    return totals


def _to_review(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if a["report_group"] == "review"]


def _charted(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alerts drawn with a timeline: new, changed and never-reviewed resolved ones (up to MAX_TIMELINES)
    and the top ongoing ones, in worklist order."""
    review = _to_review(alerts)
    fresh = [a for a in review if a["status"] in ("new", "changed") or a["unreviewed"]][:MAX_TIMELINES]
    ongoing = [a for a in review if a["status"] == "ongoing"][:ONGOING_TIMELINES]
    chosen = {a["alert_id"] for a in fresh + ongoing}
    return [a for a in review if a["alert_id"] in chosen]


def _timeline_data(
    con: duckdb.DuckDBPyConnection, charted: list[dict[str, Any]]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """Fills and episodes of both drugs around each charted alert: two queries for all alerts."""
    if not charted:
        return {}, {}
    frame = pl.DataFrame(
        [
            {
                "alert_id": a["alert_id"], "patient_id": a["patient_id"], "ingredient_a": a["ingredient_a"],
                "ingredient_b": a["ingredient_b"],
                "window_start": (a["first_overlap_date"] or a["as_of"]) - timedelta(days=TIMELINE_MARGIN_DAYS),
                "window_end": (a["last_overlap_date"] or a["as_of"]) + timedelta(days=TIMELINE_MARGIN_DAYS),
            }
            for a in charted
        ]
    )  # fmt: skip
    con.register("report_charted_rows", frame)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE report_charted AS SELECT * FROM report_charted_rows")
    finally:
        con.unregister("report_charted_rows")
    fills = _dicts(
        con,
        """
        SELECT c.alert_id, f.ingredient, f.exposure_start, f.exposure_end, f.prescriber_id, f.pharmacy_id,
               f.claim_id
        FROM report_charted AS c
        JOIN fill_exposure AS f ON f.patient_id = c.patient_id AND f.ingredient IN (c.ingredient_a, c.ingredient_b)
             AND f.exposure_end >= c.window_start AND f.exposure_start <= c.window_end
        ORDER BY c.alert_id, f.exposure_start, f.claim_id
        """,
        {},
    )
    episodes = _dicts(
        con,
        """
        SELECT c.alert_id, e.ingredient, e.episode_start, e.episode_end
        FROM report_charted AS c
        JOIN episodes AS e ON e.patient_id = c.patient_id AND e.ingredient IN (c.ingredient_a, c.ingredient_b)
             AND e.episode_end >= c.window_start AND e.episode_start <= c.window_end
        ORDER BY c.alert_id, e.episode_start
        """,
        {},
    )
    con.execute("DROP TABLE IF EXISTS report_charted")
    by_fill: dict[str, list[dict[str, Any]]] = {}
    for fill in fills:
        by_fill.setdefault(fill["alert_id"], []).append(fill)
    by_episode: dict[str, list[dict[str, Any]]] = {}
    for episode in episodes:
        by_episode.setdefault(episode["alert_id"], []).append(episode)
    return by_fill, by_episode


# ---------------------------------------------------------------------------- sections


def explanation(alert: dict[str, Any]) -> str:
    """One sentence a pharmacist reads first: what overlapped (or started too soon), and who wrote it."""
    a, b = alert["ingredient_a"], alert["ingredient_b"]
    if alert["kind"] == "washout":
        first, second = (a, b) if alert["initiation_order"] == "a_first" else (b, a)
        what = f"{second} started on {alert['first_overlap_date']}, {washout_words(alert['washout_gap_days'], first)}"
    else:
        what = (
            f"{a} and {b} were covered together on {alert['overlap_days']} day(s) between "
            f"{alert['first_overlap_date']} and {alert['last_overlap_date']}"
        )
        if alert.get("longest_overlap_days"):
            what += f" (longest run {alert['longest_overlap_days']} days)"
    prescribers = {True: "written by different prescribers", False: "a prescriber wrote both",
                   None: "a prescriber is unknown"}[alert["cross_prescriber"]]  # fmt: skip
    pharmacies = {True: "dispensed by different pharmacies", False: "one pharmacy dispensed both",
                  None: "a pharmacy is unknown"}[alert["cross_pharmacy"]]  # fmt: skip
    return f"{what}; {prescribers}; {pharmacies}."


def washout_words(gap: int | None, stopped: str) -> str:
    """Where a washout interaction's second drug started, counted from the day the first drug's supply
    runs out taking every dispensed dose (early refills carried over)."""
    if gap is None:
        return "inside the washout window"
    if gap <= 0:
        return (
            f"while {stopped} dispensed early was still on hand ({-gap + 1} day(s) of it left, taking every "
            "dispensed dose), inside the washout window"
        )
    return (
        f"{gap} day(s) after the {stopped} supply ran out (taking every dispensed dose, early refills "
        "carried over), inside the washout window"
    )


def priority_text(alert: dict[str, Any]) -> str:
    parts = alert.get("priority_parts") or {}
    shown = [
        f"{label} {parts[key]:+.1f}".replace(".0", "") for key, label in PRIORITY_PARTS if parts.get(key)
    ]
    total = alert.get("priority") or 0
    return f"{total:.1f} = " + " ".join(shown) if shown else f"{total:.1f}"


def status_label(alert: dict[str, Any]) -> str:
    return "resolved, never reviewed" if alert.get("unreviewed") else alert["status"]


def _alert_card(alert: dict[str, Any], svg: str | None) -> str:
    reasons = ", ".join(r.replace("_", " ") for r in alert.get("status_reasons") or [])
    details = [
        ("Why", explanation(alert)),
        ("Priority", priority_text(alert)),
        ("Changed because", reasons) if reasons else None,
        (
            "Name matched approximately",
            "; ".join(alert["approximate_names"])
            + " - a misspelt or foreign name taken for a rule drug: check the claim "
            "(serosurv rules add-synonym accepts the name)",
        )
        if alert.get("approximate_names")
        else None,
        (f"Prescribers {alert['ingredient_a']}", ", ".join(alert["prescriber_ids_a"] or []) or "unknown"),
        (f"Prescribers {alert['ingredient_b']}", ", ".join(alert["prescriber_ids_b"] or []) or "unknown"),
        (f"Pharmacies {alert['ingredient_a']}", ", ".join(alert["pharmacy_ids_a"] or []) or "unknown"),
        (f"Pharmacies {alert['ingredient_b']}", ", ".join(alert["pharmacy_ids_b"] or []) or "unknown"),
        ("Serotonergic prescribers", alert.get("n_serotonergic_prescribers")),
        ("Guidance", alert.get("guidance") or ""),
        (
            "Last action",
            f"{alert['last_action']} / {alert['last_result'] or '-'} on {alert['last_action_at']:%Y-%m-%d}",
        )
        if alert.get("last_action") and alert.get("last_action_at")
        else None,
    ]
    dl = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in filter(None, details))
    severity = escape(alert["severity"] or "")
    return (
        f'<div class="alert sev-{severity}" id="alert-{escape(alert["alert_id"])}"><div class="head">'
        f'<span class="status {escape(alert["status"])}">{escape(status_label(alert))}</span>'
        f"{severity_badge(alert['severity'])}"
        f'<span class="pair">{escape(alert["ingredient_a"])} + {escape(alert["ingredient_b"])}</span>'
        f"<span>patient {escape(alert['patient_id'])}</span><span>priority {alert['priority'] or 0:.1f}</span>"
        f'<span class="muted">rule {escape(alert["rule_id"] or "")} · {escape(alert["kind"] or "")} · '
        f"alert {escape(alert['alert_id'])}</span></div><dl>{dl}</dl>{svg or ''}</div>"
    )


def _alert_rows(alerts: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            Raw(f'<a href="#alert-{escape(a["alert_id"])}">{escape(a["alert_id"])}</a>'),
            status_label(a),
            a["priority"],
            severity_badge(a["severity"]),
            a["patient_id"],
            f"{a['ingredient_a']} + {a['ingredient_b']}",
            a["kind"],
            explanation(a) if a["kind"] else "",
            a["cross_prescriber"],
            a["cross_pharmacy"],
        ]
        for a in alerts[:MAX_TABLE_ROWS]
    ]


_ALERT_HEADERS = ["alert", "status", "priority", "severity", "patient", "pair", "kind", "explanation",
                  "cross-prescriber", "cross-pharmacy"]  # fmt: skip


def _alerts_section(
    alerts: list[dict[str, Any]], svgs: dict[str, str], totals: dict[tuple[str, bool], int]
) -> str:
    """One list to work through, the most dangerous first (severity, then priority, then status): cards
    with timelines for new, changed and never-reviewed alerts and the top ongoing ones, the rest as a
    table; then what resolved tonight and what is quiet after an action."""
    review = _to_review(alerts)
    n_review = sum(totals.get((s, False), 0) for s in ("new", "changed", "ongoing")) + totals.get(
        ("unreviewed", False), 0
    )
    parts = [f'<h3 id="review">To review ({n_review:,}), most dangerous first</h3>']
    if not review:
        parts.append('<p class="muted">Nothing to review tonight.</p>')
    drawn = [a for a in review if a["alert_id"] in svgs]
    parts.extend(_alert_card(a, svgs[a["alert_id"]]) for a in drawn)
    rest = [a for a in review if a["alert_id"] not in svgs]
    if rest:
        parts.append(f'<p class="muted">{n_review - len(drawn):,} more to review, in the same order:</p>')
        parts.append(_table_with_more(rest, n_review - len(drawn), "alerts to review"))
    resolved = [a for a in alerts if a["report_group"] == "resolved"]
    n_resolved = sum(n for (status, _), n in totals.items() if status == "resolved") - sum(
        1 for a in review if a["status"] == "resolved" and not a["carried_over"]
    )
    parts.append(f'<h3 id="resolved">Resolved tonight ({max(n_resolved, 0):,})</h3>')
    parts.append(
        _table_with_more(resolved, n_resolved, "resolved alerts")
        if resolved
        else '<p class="muted">None resolved tonight (other than those still to review).</p>'
    )
    quiet = [a for a in alerts if a["report_group"] == "quiet"]
    if quiet:
        n_quiet = sum(n for (_, is_quiet), n in totals.items() if is_quiet)
        parts.append(f'<h3 id="quiet">Acted on, quiet until they change ({n_quiet:,})</h3>')
        parts.append(_table_with_more(quiet, n_quiet, "quiet alerts"))
    return "".join(parts)


def _table_with_more(alerts: list[dict[str, Any]], total: int, what: str) -> str:
    """The first alerts as a table and how many more (of `total`) the worklist files hold."""
    html = table(_ALERT_HEADERS, _alert_rows(alerts), numeric={2})
    if total > MAX_TABLE_ROWS:
        html += f'<p class="muted">{total - MAX_TABLE_ROWS:,} more {escape(what)} in the worklist CSV.</p>'
    return html


def _fragmentation(con: duckdb.DuckDBPyConnection) -> str:
    """Current (not resolved) alerts per severity, most severe first, then all: how often the two drugs
    came from different prescribers and pharmacies, and how many prescribers were involved."""
    found = rows(
        con,
        """
        SELECT severity, count(*),
               count(*) FILTER (cross_prescriber), count(*) FILTER (NOT cross_prescriber),
               count(*) FILTER (cross_prescriber IS NULL), count(*) FILTER (cross_pharmacy),
               count(*) FILTER (NOT cross_pharmacy), count(*) FILTER (cross_pharmacy IS NULL),
               count(*) FILTER (coalesce(n_serotonergic_prescribers, 0) = 1),
               count(*) FILTER (coalesce(n_serotonergic_prescribers, 0) = 2),
               count(*) FILTER (coalesce(n_serotonergic_prescribers, 0) >= 3),
               grouping(severity) AS is_total, max(coalesce(priority_parts.severity, 0)) AS points
        FROM report_worklist
        WHERE status <> 'resolved'
        GROUP BY ROLLUP (severity)
        ORDER BY is_total, points DESC, severity
        """,
    )
    body = [
        [Raw("<b>all</b>") if is_total else severity_badge(severity), *counts]
        for severity, *counts, is_total, _ in found
    ]
    current = bool(found) and found[-1][1] > 0
    return table(
        ["severity", "alerts", "cross-prescriber", "same prescriber", "prescriber unknown", "cross-pharmacy",
         "same pharmacy", "pharmacy unknown", "1 prescriber", "2 prescribers", "3+ prescribers"],
        body if current else [], "No current alerts.", numeric=set(range(1, 11)),
    )  # fmt: skip


def _parameters(info: dict[str, Any]) -> str:
    try:
        settings = json.loads(info.get("parameters") or "{}")
    except ValueError:
        return f"<pre>{escape(str(info.get('parameters')))}</pre>"
    body = [
        [f"{section}.{key}", value if not isinstance(value, float) else f"{value:g}"]
        for section, values in sorted(settings.items())
        if isinstance(values, dict)
        for key, value in sorted(values.items())
    ]
    return table(["setting", "value"], body, "No parameters recorded.")


def render_report(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    """The report's HTML."""
    info = _run(con, run_id)
    as_of = info.get("as_of")
    _stage_worklist(con, run_id, as_of, _unreviewed_rank(info))
    alerts, totals = _worklist(con), _totals(con)
    charted = _charted(alerts)
    fills, episodes = _timeline_data(con, charted)
    svgs = {
        a["alert_id"]: timeline_svg(a, fills.get(a["alert_id"], []), episodes.get(a["alert_id"], []))
        for a in charted
    }
    counts = {s: totals.get((s, False), 0) for s in STATUS_ORDER}
    read, accepted, quarantined = (
        info.get(k) or 0 for k in ("rows_read", "rows_accepted", "rows_quarantined")
    )
    reconciled = read == accepted + quarantined
    quarantine = rows(
        con,
        "SELECT reason_code, count(*), any_value(reason), min(source_file || ' row ' || source_row) "
        "FROM quarantine WHERE run_id = $r GROUP BY 1 ORDER BY 2 DESC, 1",
        {"r": run_id},
    )
    approximate = rows(
        con, "SELECT drug_name, likely_match, ingredients, fills, patients FROM approximate_names WHERE run_id = $r "
        "ORDER BY fills DESC, drug_name LIMIT 100", {"r": run_id},
    )  # fmt: skip
    unmapped = rows(
        con, "SELECT drug_name, ndc, fills, patients FROM unmapped_drugs WHERE run_id = $r "
        "ORDER BY fills DESC, drug_name LIMIT 25", {"r": run_id},
    )  # fmt: skip
    unmapped_total = rows(
        con, "SELECT count(*), sum(fills) FROM unmapped_drugs WHERE run_id = $r", {"r": run_id}
    )[0]
    quality = rows(
        con,
        "SELECT suite, expectation, success, observed FROM dq_results WHERE run_id = $r ORDER BY success, suite, expectation",
        {"r": run_id},
    )
    failed_checks = sum(not ok for _, _, ok, _ in quality)
    attrition = rows(
        con, "SELECT measure, value FROM attrition WHERE run_id = $r ORDER BY step", {"r": run_id}
    )
    burden = rows(
        con,
        """
        SELECT patient_id, burden_start, burden_end, burden_days, max_concurrent, ingredients, prescriber_ids,
               n_prescribers
        FROM serotonergic_burden
        WHERE $as_of IS NULL OR (burden_end >= $as_of::date - $lookback AND burden_start <= $as_of)
        ORDER BY max_concurrent DESC, n_prescribers DESC, burden_days DESC, patient_id LIMIT 200
        """,
        {"as_of": as_of, "lookback": LOOKBACK_DAYS},
    )
    rules_hash = str(info.get("rules_hash") or "unknown")
    night = escape(str(as_of))
    top_reasons = ", ".join(f"{code} {n:,}" for code, n, *_ in quarantine[:3]) or "none"
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>serosurv audit {night}</title><style>{CSS}</style></head><body>
<h1>Serotonergic co-prescribing audit — night of {night}</h1>
<p class="muted">Run {escape(run_id)} ({escape(str(info.get("status") or "unknown"))}, {
        escape(str(info.get("recompute") or "full"))
    }
recompute) · generated {datetime.now():%Y-%m-%d %H:%M} · rules version <code>{escape(rules_hash[:12])}</code>
· configuration <code>{escape(str(info.get("config_hash") or "unknown"))}</code></p>
<nav><a href="#alerts">Alerts</a><a href="#fragmentation">Fragmentation</a><a href="#burden">Serotonergic burden</a>
<a href="#summary">Run summary</a><a href="#dq">Data quality</a><a href="#parameters">Parameters</a></nav>
{
        cards(
            [
                ("new", counts["new"]),
                ("changed", counts["changed"]),
                ("ongoing", counts["ongoing"]),
                ("resolved", counts["resolved"]),
                ("rows read", read),
                ("accepted", accepted),
                ("quarantined", quarantined),
                ("data-quality checks failed", failed_checks),
            ]
        )
    }
<h2 id="alerts">Alerts — the most dangerous first</h2>
<p class="muted">Order: severity, then priority, then status (new and changed before ongoing). Priority =
severity first (100 points per level: contraindicated 400 … minor 100), then +20 different prescribers, +10
different pharmacies, +5 newest fill within 7 days (+2 within 30), up to +5 for overlap length, +2 for three or
more serotonergic prescribers. A contraindicated alert that resolved before anyone acted on it stays here as
"resolved, never reviewed" until an action is recorded. Timelines: one lane per drug; bars are
fills coloured by prescriber and labelled prescriber · pharmacy; dashed outlines are episodes; the shaded band is
the overlap (red) or washout window (yellow); the dotted line is the night.</p>
<p class="muted"><b>What claims cannot see.</b> Pharmacy claims show what was dispensed by pharmacies that
bill: not inpatient administrations (one IV methylene blue dose in theatre, linezolid started in hospital),
samples, cash-paid or over-the-counter purchases (dextromethorphan, St John's wort, tryptophan) or drugs
taken from another supply. No alert is not proof of no risk.</p>
{_alerts_section(alerts, svgs, totals)}
<h2 id="fragmentation">Fragmentation of current alerts</h2>
<p class="muted">Cross-prescriber: no prescriber in common between the two drugs' fills, both known. Number of
prescribers: distinct prescribers of serotonergic drugs in the alert's window.</p>
{_fragmentation(con)}
<h2 id="burden">Serotonergic burden: three or more serotonergic drugs at once</h2>
<p class="muted">Periods reaching into the last {
        LOOKBACK_DAYS
    } days before the night (up to 200, most concurrent drugs first).</p>
{
        table(
            ["patient", "from", "to", "days", "max concurrent", "drugs", "prescribers", "n prescribers"],
            [list(r) for r in burden],
            "No period of three or more concurrent serotonergic drugs.",
            numeric={3, 4, 7},
        )
    }
<h2 id="summary">Run summary</h2>
<p>{
        '<span class="ok">Rows reconcile</span>'
        if reconciled
        else '<span class="bad">Rows do not reconcile</span>'
    }:
{read:,} read = {accepted:,} accepted + {quarantined:,} quarantined. Top quarantine reasons: {
        escape(top_reasons)
    }.</p>
<p>Inputs: {escape(str(info.get("input_files") or "none recorded"))}</p>
<h3>Quarantined rows by reason</h3>
{
        table(
            ["reason code", "rows", "reason", "first example"],
            [list(r) for r in quarantine],
            "No row was quarantined.",
            numeric={1},
        )
    }
<h3>Names matched approximately: check these first</h3>
<p class="muted">A misspelt or foreign drug name one or two letters from a rule drug or brand is taken for that
drug (so no dangerous combination is missed) and its alerts say so. Confirm each one and accept it with
<code>serosurv rules add-synonym NAME INGREDIENT</code>, or correct the feed.</p>
{
        table(
            ["drug name", "likely match", "taken as", "fills", "patients"],
            [list(r) for r in approximate],
            "No name was matched approximately.",
            numeric={3, 4},
        )
    }
<h3>Unmapped drugs (top 25 of {unmapped_total[0] or 0:,}, {unmapped_total[1] or 0:,} fills)</h3>
{
        table(
            ["drug name", "NDC", "fills", "patients"],
            [list(r) for r in unmapped],
            "Every drug was mapped.",
            numeric={2, 3},
        )
    }
<h3>Attrition</h3>
{table(["measure", "value"], [list(r) for r in attrition], "No counts recorded.", numeric={1})}
<h2 id="dq">Data quality</h2>
<p>{
        "<span class='ok'>Every check passed.</span>"
        if not failed_checks
        else f"<span class='bad'>{failed_checks} check(s) failed.</span>"
    }</p>
{table(["suite", "expectation", "passed", "observed"], [list(r) for r in quality], "No results recorded.")}
<h2 id="parameters">Rules and parameters</h2>
<p>Rules hash <code>{escape(rules_hash)}</code>; configuration hash <code>{
        escape(str(info.get("config_hash") or ""))
    }</code>.</p>
{_parameters(info)}
</body></html>"""
    return html


# ---------------------------------------------------------------------------- files


def _copy_worklist(con: duckdb.DuckDBPyConnection, target: Path, csv: bool) -> None:
    """The worklist written by DuckDB (a night can have hundreds of thousands of alerts): Parquet keeps
    lists as lists; CSV joins them with ';' and spells the non-zero priority parts out as `part=points`."""
    replaced = ["to_json(priority_parts)::VARCHAR AS priority_parts"]
    if csv:
        lists = [
            c
            for c in WORKLIST_COLUMNS
            if c.endswith(("_ids_a", "_ids_b")) or c in ("status_reasons", "approximate_names")
        ]
        parts = ", ".join(
            f"CASE WHEN priority_parts.{name} <> 0 THEN '{name}=' || format('{{:g}}', priority_parts.{name}) END"
            for name, _ in PRIORITY_PARTS
        )
        replaced = [f"array_to_string({c}, ';') AS {c}" for c in lists]
        replaced.append(f"nullif(concat_ws(';', {parts}), '') AS priority_parts")
    worklist = f"SELECT {', '.join(WORKLIST_COLUMNS)} FROM report_worklist ORDER BY position"
    query = f"SELECT * REPLACE ({', '.join(replaced)}) FROM ({worklist})"
    options = "FORMAT csv, HEADER true" if csv else "FORMAT parquet"
    con.execute(f"COPY ({query}) TO {sql_literal(str(target))} ({options})")


def write_night_reports(con: duckdb.DuckDBPyConnection, run_id: str, out_dir: Path) -> dict[str, Path]:
    """Write report.html, alerts.csv and alerts.parquet for the night under `.tmp` names; return them."""
    as_of = rows(con, "SELECT as_of FROM runs WHERE run_id = $r", {"r": run_id})[0][0]
    night_dir = Path(out_dir) / str(as_of)
    night_dir.mkdir(parents=True, exist_ok=True)
    html = render_report(con, run_id)  # stages `report_worklist`, which the files are written from
    report = night_dir / "report.html.tmp"
    report.write_text(html, encoding="utf-8")
    worklist = night_dir / "alerts.csv.tmp"
    _copy_worklist(con, worklist, csv=True)
    parquet = night_dir / "alerts.parquet.tmp"
    _copy_worklist(con, parquet, csv=False)
    con.execute("DROP TABLE report_worklist")
    return {"report": report, "alerts": worklist, "alerts_parquet": parquet}
