"""The nightly audit report (one self-contained HTML file) and the worklist (CSV and Parquet), for
pharmacists.

Presentation only: everything shown is read from the warehouse tables of the night by the queries in
sql/analyses/ and rendered by templates/audit.html.j2. Files are written under a `.tmp` name; the flow
moves them into place after the warehouse commit. The report stays fast with thousands of alerts:
timelines are drawn for new and changed alerts (up to `MAX_TIMELINES`) and the top `ONGOING_TIMELINES`
ongoing ones, from two batched queries, never one query per alert. How priority is computed is explained
with the weights the night ran with (its recorded [alerts.priority] settings).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from reports.html import macros, render
from reports.timeline import alert_window, padded, timeline_svg
from serosurv.core.config import PriorityWeights, recorded_config
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import RuleSet, load_rules
from serosurv.core.severity import SEVERITIES, SEVERITY_RANK
from serosurv.core.vocabularies import PRIORITY_PARTS, indicator_label
from transforms.quality import FIELD_WORDS, TITLES
from transforms.sql import copy_to, create_table, drop_tables, fetch, fetch_dicts, fetch_one

STATUS_ORDER = ("new", "changed", "ongoing", "resolved")
MAX_TIMELINES = 1000  # new and changed alerts drawn with a timeline (the rest are listed in the table)
ONGOING_TIMELINES = 25  # top ongoing alerts by priority drawn with a timeline
MAX_TABLE_ROWS = 500  # per status; the CSV and Parquet worklists have everything
TOP_ALERTS = 10  # alerts listed on the report's first (summary) page
LOOKBACK_DAYS = 30  # burden periods shown: those reaching this close to the night
BURDEN_ROWS, APPROXIMATE_ROWS, UNMAPPED_ROWS = 200, 100, 25
QUARANTINE_REASONS = 10  # reasons listed on the data-quality and failed-night pages


# ---------------------------------------------------------------------------- queries


def _run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    return fetch_one(con, "analyses/run_by_id.sql", {"run_id": run_id}) or {"run_id": run_id}


# The claims mapped only by an approximate drug name, which the worklist and the period report name on
# an alert: one definition, read by both queries as an input.
APPROXIMATE_CLAIMS = {"approximate_claims": "intermediate/int_approximate_claims.sql"}


def _stage_worklist(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: date | None, unreviewed_rank: int
) -> None:
    """The night's worklist (sql/marts/worklist.sql) as the temp table `report_worklist`, computed once
    for the report's parts and the worklist files."""
    create_table(
        con,
        "report_worklist",
        "marts/worklist.sql",
        {"run_id": run_id, "as_of": as_of, "unreviewed_rank": unreviewed_rank},
        temp=True,
        inputs=APPROXIMATE_CLAIMS,
    )


def _worklist(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The night's alerts in worklist order (most dangerous first): of each group (to review, resolved,
    quiet) only as many as the report can show (the files have every alert)."""
    return fetch_dicts(con, "analyses/report_alerts.sql", {"shown": MAX_TIMELINES + MAX_TABLE_ROWS})


def _totals(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, bool], int]:
    """(status, quiet) -> alerts, over the whole worklist; ('unreviewed', False) counts the resolved
    alerts kept on the worklist because nobody reviewed them."""
    return {(status, quiet): n for status, quiet, n in fetch(con, "analyses/report_alert_totals.sql")}


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


def timeline_data(
    con: duckdb.DuckDBPyConnection, charted: list[dict[str, Any]], ruleset: RuleSet | None
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]], dict[str, int | None]]:
    """Fills and episodes of both drugs inside each charted alert's span (its window and washout window,
    with their margins: reports/timeline.py), two queries for all alerts; and each alert's washout days.
    Each alert is keyed by `card_id` (the alert id, or the interaction id of an audit's interaction)."""
    if not charted:
        return {}, {}, {}
    washouts = {a["card_id"]: washout_days(ruleset, a) for a in charted}
    spans = [padded(**_days(alert_window(a, washouts[a["card_id"]]))) for a in charted]
    params = {
        "alert_ids": [a["card_id"] for a in charted],
        "patient_ids": [a["patient_id"] for a in charted],
        "ingredients_a": [a["ingredient_a"] for a in charted],
        "ingredients_b": [a["ingredient_b"] for a in charted],
        "window_starts": [start for start, _ in spans],
        "window_ends": [end for _, end in spans],
    }
    by_fill: dict[str, list[dict[str, Any]]] = {}
    for fill in fetch_dicts(con, "analyses/timeline_fills.sql", params):
        by_fill.setdefault(fill["alert_id"], []).append(fill)
    by_episode: dict[str, list[dict[str, Any]]] = {}
    for episode in fetch_dicts(con, "analyses/timeline_episodes.sql", params):
        by_episode.setdefault(episode["alert_id"], []).append(episode)
    return by_fill, by_episode, washouts


def _days(window: dict[str, Any]) -> dict[str, date]:
    return {"first": window["start"], "last": window["end"]}


def night_rules(info: dict[str, Any]) -> RuleSet | None:
    """The rules a night ran with (its recorded [rules] settings), for the washout windows its timelines
    draw; None when its rule folder is gone (the charts then shade the gap only)."""
    settings = recorded_config(info.get("parameters")).rules
    try:
        return load_rules(
            Path(settings.directory) if settings.directory else None,
            include_related=settings.include_related,
            jurisdiction=settings.jurisdiction,
        )
    except SerosurvError:
        return None


def washout_days(ruleset: RuleSet | None, alert: dict[str, Any]) -> int | None:
    """The washout of a washout alert's rule in its direction (the first drug stopped, the second
    started), from the rule set's pair table; None for overlaps, unknown rules or no rule set."""
    if ruleset is None or alert.get("kind") != "washout":
        return None
    a, b = alert["ingredient_a"], alert["ingredient_b"]
    column = "washout_a_then_b" if alert.get("initiation_order") != "b_first" else "washout_b_then_a"
    table = ruleset.pair_table()
    rows = table.filter(
        (table["ingredient_a"] == a)
        & (table["ingredient_b"] == b)
        & (table["rule_id"] == alert.get("rule_id"))
    )
    days = [d for d in rows.get_column(column).to_list() if d is not None]
    return max(days) if days else None


# ---------------------------------------------------------------------------- words


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
    prescribers = {
        True: "written by different prescribers",
        False: "a prescriber wrote both",
        None: "a prescriber is unknown",
    }[alert["cross_prescriber"]]
    pharmacies = {
        True: "dispensed by different pharmacies",
        False: "one pharmacy dispensed both",
        None: "a pharmacy is unknown",
    }[alert["cross_pharmacy"]]
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
    """An alert's priority and its non-zero parts: '430.0 = severity +400 different prescribers +20 ...'."""
    parts = alert.get("priority_parts") or {}
    shown = [
        f"{words} {parts[key]:+.1f}".replace(".0", "") for key, words, _ in PRIORITY_PARTS if parts.get(key)
    ]
    total = alert.get("priority") or 0
    return f"{total:.1f} = " + " ".join(shown) if shown else f"{total:.1f}"


def priority_rules(weights: PriorityWeights) -> list[str]:
    """How priority is computed with `weights`, in the worklist's words for the parts (PRIORITY_PARTS):
    severity first, then each other part with its points ('different prescribers +20', ...); parts weighted
    0 are left out. The day counts are those of sql/marts/alerts_tonight.sql."""
    words = {key: text for key, text, _ in PRIORITY_PARTS}
    levels = sorted(SEVERITY_RANK.items(), key=lambda item: -item[1])
    (top, top_rank), (bottom, bottom_rank) = levels[0], levels[-1]
    rules = [
        f"{words['severity']} first ({weights.severity:g} points per level: {top} "
        f"{weights.severity * top_rank:g} … {bottom} {weights.severity * bottom_rank:g})"
    ]
    if weights.cross_prescriber:
        rules.append(f"{words['cross_prescriber']} +{weights.cross_prescriber:g}")
    if weights.cross_pharmacy:
        rules.append(f"{words['cross_pharmacy']} +{weights.cross_pharmacy:g}")
    week, month = weights.recent_week, weights.recent_month
    if week and month:
        rules.append(f"{words['recency']} +{week:g} within 7 days of the night (+{month:g} within 30)")
    elif week or month:
        rules.append(f"{words['recency']} +{week or month:g} within {7 if week else 30} days of the night")
    if weights.overlap_max:
        rules.append(f"{words['overlap']} up to +{weights.overlap_max:g} (in proportion, full at 30 days)")
    if weights.burden:
        rules.append(f"{words['burden']} +{weights.burden:g}")
    return rules


def status_label(alert: dict[str, Any]) -> str:
    if not alert.get("status"):
        return "never on a worklist"
    return "resolved, never reviewed" if alert.get("unreviewed") else alert["status"]


FRAGMENTATION_WORDS = {
    1: "different prescribers and different pharmacies",
    2: "different prescribers",
    3: "different pharmacies",
    4: "fragmentation not known (a prescriber or pharmacy is missing)",
    5: "same prescriber and same pharmacy",
}


def fragmentation_rank(alert: dict[str, Any]) -> int:
    """1 (most fragmented: different prescribers and pharmacies) ... 5 (one prescriber, one pharmacy): the
    order of FRAGMENTATION_WORDS, as sql/analyses/period_interactions.sql ranks interactions."""
    prescribers, pharmacies = alert.get("cross_prescriber"), alert.get("cross_pharmacy")
    if prescribers and pharmacies:
        return 1
    if prescribers:
        return 2
    if pharmacies:
        return 3
    return 4 if prescribers is None or pharmacies is None else 5


def severity_words(alert: dict[str, Any]) -> str:
    """'contraindicated (NCPDP clinical significance 1)': the level in words, the NCPDP code beside it."""
    code = alert.get("clinical_significance")
    if not code:
        return alert.get("severity") or "unknown"
    return f"{alert.get('severity') or 'unknown'} (NCPDP clinical significance {code})"


def ncpdp_words(alert: dict[str, Any]) -> str:
    """The NCPDP DUR fields in plain words, each code beside its words: 'drug-drug interaction (reason for
    service DD); different prescriber (other prescriber indicator 2); ...'."""
    parts = []
    if alert.get("reason_for_service"):
        parts.append(f"drug-drug interaction (reason for service {alert['reason_for_service']})")
    code = alert.get("clinical_significance")
    if code:
        words = indicator_label("clinical_significance", code, "unknown")
        parts.append(f"clinical significance {code}: {words}")
    for vocabulary, field, name in (
        ("other_prescriber_indicator", "other_prescriber_indicator", "other prescriber indicator"),
        ("other_pharmacy_indicator", "other_pharmacy_indicator", "other pharmacy indicator"),
    ):
        value = alert.get(field)
        if value is not None:
            parts.append(f"{indicator_label(vocabulary, value, 'unknown')} ({name} {value})")
    return "; ".join(parts)


def _details(alert: dict[str, Any]) -> list[tuple[str, Any]]:
    """The (term, text) lines of an alert's card."""
    reasons = ", ".join(r.replace("_", " ") for r in alert.get("status_reasons") or [])
    a, b = alert["ingredient_a"], alert["ingredient_b"]
    details = [
        ("Why", explanation(alert)),
        ("Severity", severity_words(alert)),
        ("Priority", priority_text(alert)) if alert.get("priority") is not None else None,
        ("Changed because", reasons) if reasons else None,
        (
            "Name matched approximately",
            "; ".join(alert["approximate_names"])
            + " - a misspelt or foreign name taken for a rule drug: check the claim "
            "(serosurv rules add-synonym accepts the name)",
        )
        if alert.get("approximate_names")
        else None,
        (f"Prescribers {a}", ", ".join(alert["prescriber_ids_a"] or []) or "unknown"),
        (f"Prescribers {b}", ", ".join(alert["prescriber_ids_b"] or []) or "unknown"),
        (f"Pharmacies {a}", ", ".join(alert["pharmacy_ids_a"] or []) or "unknown"),
        (f"Pharmacies {b}", ", ".join(alert["pharmacy_ids_b"] or []) or "unknown"),
        ("Serotonergic prescribers", alert.get("n_serotonergic_prescribers")),
        ("NCPDP DUR", ncpdp_words(alert)) if alert.get("reason_for_service") else None,
        ("Guidance", alert.get("guidance") or ""),
        (
            "Last action",
            f"{alert['last_action']} / {alert['last_result'] or '-'} on {alert['last_action_at']:%Y-%m-%d}",
        )
        if alert.get("last_action") and alert.get("last_action_at")
        else None,
    ]
    return [line for line in details if line]


def filter_keys(alert: dict[str, Any]) -> dict[str, str]:
    """What the page's filters (templates/filters.js) match an alert's card or row on: its severity, status
    (new, changed, ongoing, unreviewed, resolved, quiet, none), patient, drugs, prescribers and pharmacies
    (space-separated lists)."""
    if alert.get("quiet"):
        status = "quiet"
    elif alert.get("unreviewed"):
        status = "unreviewed"
    else:
        status = alert.get("status") or "none"
    return {
        "severity": alert.get("severity") or "",
        "status": status,
        "patient": alert.get("patient_id") or "",
        "drugs": " ".join(d.replace(" ", "_") for d in (alert["ingredient_a"], alert["ingredient_b"])),
        "prescribers": " ".join(
            sorted({*(alert.get("prescriber_ids_a") or []), *(alert.get("prescriber_ids_b") or [])})
        ),
        "pharmacies": " ".join(
            sorted({*(alert.get("pharmacy_ids_a") or []), *(alert.get("pharmacy_ids_b") or [])})
        ),
    }


def presented(alert: dict[str, Any]) -> dict[str, Any]:
    """The alert with the words its card and table row show and the keys the page's filters use."""
    return {
        **alert,
        "card_id": alert.get("card_id") or alert["alert_id"],
        "status_words": status_label(alert),
        "why": explanation(alert) if alert["kind"] else "",
        "fragmentation": FRAGMENTATION_WORDS[fragmentation_rank(alert)],
        "details": _details(alert),
        "filters": filter_keys(alert),
    }


def _alert_card(alert: dict[str, Any], svg: str | None) -> str:
    """One alert's card (templates/audit_macros.html.j2), with its timeline when drawn."""
    return macros("audit_macros.html.j2").alert_card(presented(alert), svg)


def _parameters(info: dict[str, Any]) -> list[list[Any]] | str:
    """The settings the night recorded as (setting, value) rows; the raw text when it is not JSON."""
    try:
        settings = json.loads(info.get("parameters") or "{}")
    except ValueError:
        return str(info.get("parameters"))
    return [
        [f"{section}.{key}", value if not isinstance(value, float) else f"{value:g}"]
        for section, values in sorted(settings.items())
        if isinstance(values, dict)
        for key, value in sorted(values.items())
    ]


# ---------------------------------------------------------------------------- the report


def render_report(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    """The report's HTML: a first page to print (counts, the top alerts, what changed since the last
    night), then every alert with the page's filters, then the run's summary and data quality."""
    info = _run(con, run_id)
    as_of = info.get("as_of")
    settings = recorded_config(info.get("parameters")).alerts
    _stage_worklist(con, run_id, as_of, settings.unreviewed_min_rank)
    alerts, totals = [presented(a) for a in _worklist(con)], _totals(con)
    charted = _charted(alerts)
    fills, episodes, washouts = timeline_data(con, charted, night_rules(info))
    svgs = {
        a["alert_id"]: timeline_svg(
            a, fills.get(a["alert_id"], []), episodes.get(a["alert_id"], []), washouts.get(a["alert_id"])
        )
        for a in charted
    }
    review = _to_review(alerts)
    drawn = [a for a in review if a["alert_id"] in svgs]
    n_review = sum(totals.get((s, False), 0) for s in ("new", "changed", "ongoing")) + totals.get(
        ("unreviewed", False), 0
    )
    n_resolved = sum(n for (status, _), n in totals.items() if status == "resolved") - sum(
        1 for a in review if a["status"] == "resolved" and not a["carried_over"]
    )
    read, accepted, quarantined = (
        info.get(k) or 0 for k in ("rows_read", "rows_accepted", "rows_quarantined")
    )
    quarantine = fetch(con, "analyses/quarantine_reasons.sql", {"run_id": run_id})
    unmapped_total = fetch_one(con, "analyses/unmapped_drugs_total.sql", {"run_id": run_id})
    quality = quality_results(con, run_id)
    attrition = fetch(con, "analyses/attrition_counts.sql", {"run_id": run_id})
    return render(
        "audit.html.j2",
        run=info,
        run_id=run_id,
        night=as_of,
        generated=datetime.now(),
        counts={s: totals.get((s, False), 0) for s in STATUS_ORDER},
        changes=night_changes(con, as_of, recorded_config(info.get("parameters")).alerts.lookback_days),
        top=review[:TOP_ALERTS],
        read=read,
        accepted=accepted,
        quarantined=quarantined,
        failed_checks=sum(q["status"] == "stopped" for q in quality),
        warned_checks=sum(q["status"] == "warning" for q in quality),
        absent_words=absent_words(con, run_id),
        ongoing_orders=(fetch_one(con, "analyses/night_profile.sql", {"run_id": run_id}) or {}).get(
            "ongoing_claims"
        )
        or 0,
        ongoing_max_days=recorded_config(info.get("parameters")).episodes.ongoing_max_days,
        priority_rules=priority_rules(settings.priority),
        kept_unreviewed=settings.keep_unreviewed_resolved,
        most_severe=SEVERITIES[0],
        severities=SEVERITIES,
        review=review,
        drawn=[(a, svgs[a["alert_id"]]) for a in drawn],
        rest=[a for a in review if a["alert_id"] not in svgs],
        n_review=n_review,
        n_more=n_review - len(drawn),
        resolved=[a for a in alerts if a["report_group"] == "resolved"],
        n_resolved=max(n_resolved, 0),
        quiet=[a for a in alerts if a["report_group"] == "quiet"],
        n_quiet=sum(n for (_, is_quiet), n in totals.items() if is_quiet),
        max_table_rows=MAX_TABLE_ROWS,
        fragmentation=fetch_dicts(con, "analyses/current_alert_fragmentation.sql"),
        lookback_days=LOOKBACK_DAYS,
        burden=fetch(
            con,
            "analyses/current_burden_periods.sql",
            {"as_of": as_of, "lookback_days": LOOKBACK_DAYS, "limit": BURDEN_ROWS},
        ),
        burden_rows=BURDEN_ROWS,
        quarantine=quarantine,
        top_reasons=", ".join(f"{code} {n:,}" for code, n, *_ in quarantine[:3]) or "none",
        approximate=fetch(
            con, "analyses/approximate_names_top.sql", {"run_id": run_id, "limit": APPROXIMATE_ROWS}
        ),
        unmapped=fetch(con, "analyses/unmapped_drugs_top.sql", {"run_id": run_id, "limit": UNMAPPED_ROWS}),
        unmapped_rows=UNMAPPED_ROWS,
        unmapped_drugs=unmapped_total["drugs"] or 0,
        unmapped_fills=unmapped_total["fills"] or 0,
        attrition=attrition,
        end_dates_corrected=dict(attrition).get("omop_end_dates_corrected", 0),
        quality=quality,
        parameters=_parameters(info),
    )


def night_changes(
    con: duckdb.DuckDBPyConnection, night: date | None, lookback_days: int = 30
) -> dict[str, Any]:
    """What changed since the last night before `night` (the report's first page): the night before, the
    alerts that were open then, and tonight's alerts by status, new ones by severity, changed ones by
    reason. Counts the night's own alerts (staged `report_worklist`), not those carried over. On a first
    night, also the interactions that ended more than `lookback_days` ([alerts] lookback_days) before it,
    by severity: history no worklist shows; and, when later nights already ran (a backfill run out of date
    order), the first of them."""
    neighbours = fetch_one(con, "analyses/neighbour_nights.sql", {"as_of": night}) or {}
    previous_night = neighbours.get("previous_night")
    earlier = []
    if not previous_night and night is not None:
        earlier = fetch_dicts(
            con, "analyses/interactions_before_lookback.sql", {"as_of": night, "lookback_days": lookback_days}
        )
    new_by_severity: dict[str, int] = {}
    reasons: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for status, severity, status_reasons, n in fetch(con, "analyses/report_change_counts.sql"):
        statuses[status] = statuses.get(status, 0) + n
        if status == "new":
            new_by_severity[severity or "unknown"] = new_by_severity.get(severity or "unknown", 0) + n
        for reason in status_reasons or []:
            reasons[reason.replace("_", " ")] = reasons.get(reason.replace("_", " "), 0) + n
    return {
        "previous_night": previous_night,
        "previous_open": neighbours.get("previous_open") or 0,
        "next_night": neighbours.get("next_night"),
        "statuses": statuses,
        "new_by_severity": [(s, new_by_severity[s]) for s in SEVERITIES if new_by_severity.get(s)],
        "reasons": sorted(reasons.items(), key=lambda item: (-item[1], item[0])),
        "earlier": earlier,
        "earlier_total": sum(e["interactions"] for e in earlier),
        "earlier_first": min((e["first_overlap_date"] for e in earlier), default=None),
        "lookback_days": lookback_days,
    }


def quality_results(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    """The night's data-quality checks in words (stopped and warnings first), each with its title."""
    return [
        {**q, "title": TITLES.get(q["check_name"], q["check_name"] or q["expectation"] or "")}
        for q in fetch_dicts(con, "analyses/data_quality_results.sql", {"run_id": run_id})
    ]


def absent_words(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    """The fields the night's source does not carry, in words ("prescribers and pharmacies"), or ''."""
    profile = fetch_one(con, "analyses/night_profile.sql", {"run_id": run_id}) or {}
    fields = [FIELD_WORDS[f] for f in (profile.get("absent_fields") or "").split(",") if f in FIELD_WORDS]
    return " and ".join(fields)


def _quarantine_examples(con: duckdb.DuckDBPyConnection, run_id: str) -> list[list[Any]]:
    rows = fetch(con, "analyses/quarantine_reason_examples.sql", {"run_id": run_id, "examples": 5})
    return [[code, n, reason, "; ".join(examples)] for code, n, reason, examples in rows[:QUARANTINE_REASONS]]


def render_data_quality(con: duckdb.DuckDBPyConnection, run_id: str, report_link: str | None) -> str:
    """The night's data-quality page: checks in words, quarantine, profile against earlier nights."""
    info = _run(con, run_id)
    settings = recorded_config(info.get("parameters")).validation
    trail = fetch_dicts(
        con, "analyses/night_profile_trail.sql", {"run_id": run_id, "nights": settings.history_nights}
    )
    headers = ["night", *PROFILE_HEADERS.values()]
    rows = [[t["as_of"], *(_profile_cell(k, t[k]) for k in PROFILE_HEADERS)] for t in trail]
    return render(
        "data_quality.html.j2",
        run=info,
        run_id=run_id,
        night=info.get("as_of"),
        generated=datetime.now(),
        report_link=report_link,
        quality=quality_results(con, run_id),
        absent_words=absent_words(con, run_id),
        quarantine=_quarantine_examples(con, run_id),
        history_nights=settings.history_nights,
        profile_headers=headers,
        profile_rows=rows,
        mapping_headers=MAPPING_HEADERS,
        mapping_rows=_mapping_rows(con, run_id),
    )


# The drug fields of a claim, as the data-quality page names them.
FIELD_NAMES = {"ndc": "NDC", "rxcui": "RxNorm code", "drug_name": "drug name"}
MAPPING_HEADERS = [
    "source file",
    "field",
    "fills carrying it",
    "it alone maps to a rule drug",
    "mapped by it",
    "rule-drug fills with this code and a name",
    "of them, the code maps",
]


def _mapping_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> list[list[Any]]:
    """The night's night_mapping rows in words: per source file (its name) and field; the last two cells
    only for codes."""
    rows = []
    for source, field, fills, maps, used, beside, by_code in fetch(
        con, "analyses/night_mapping_of_run.sql", {"run_id": run_id}
    ):
        code = field != "drug_name"
        rows.append(
            [
                Path(source).name if source else "",
                FIELD_NAMES.get(field, field),
                fills,
                maps,
                used,
                beside if code else "",
                by_code if code else "",
            ]
        )
    return rows


PROFILE_HEADERS = {
    "rows_read": "rows read",
    "rows_accepted": "accepted",
    "quarantine_rate": "quarantined",
    "rule_mapped_share": "map to a rule drug",
    "recognised_share": "names recognised",
    "code_only_mapped_share": "code-only mapped",
    "code_vs_name_share": "mapped by code beside a name",
    "reversal_share": "reversals",
    "known_prescriber_share": "with prescriber",
    "known_pharmacy_share": "with pharmacy",
    "newest_fill_lag_days": "newest claim, days before night",
    "patients_per_claim": "patients per claim",
    "median_days_supply": "median days supply",
    "long_supply_share": "supplies over 120 days",
    "ongoing_claims": "ongoing orders (no stop date)",
}


def _profile_cell(column: str, value: Any) -> Any:
    if value is None or isinstance(value, int):
        return value
    if column.endswith(("_share", "_rate")):
        return f"{value:.1%}"
    if column == "patients_per_claim":
        return f"{value:.3f}"
    return f"{value:,.0f}"


def write_failed_night(con: duckdb.DuckDBPyConnection, run_id: str, out_dir: Path) -> Path:
    """The page a failed night leaves where its report would have been: `OUT/NIGHT/failed.html`, with why
    it failed in words, the checks, the quarantine's top reasons with example rows and what to do."""
    info = _run(con, run_id)
    night_dir = Path(out_dir) / str(info.get("as_of"))
    night_dir.mkdir(parents=True, exist_ok=True)
    last = fetch_one(con, "analyses/latest_run.sql") or {}
    html = render(
        "failed.html.j2",
        run=info,
        run_id=run_id,
        night=info.get("as_of"),
        generated=datetime.now(),
        reason=info.get("message") or "unknown",
        last_success=last.get("as_of"),
        quality=quality_results(con, run_id),
        quarantine=_quarantine_examples(con, run_id),
        read=info.get("rows_read") or 0,
        quarantined=info.get("rows_quarantined") or 0,
    )
    page = night_dir / "failed.html"
    page.write_text(html, encoding="utf-8")
    return page


# ---------------------------------------------------------------------------- files


def write_night_reports(con: duckdb.DuckDBPyConnection, run_id: str, out_dir: Path) -> dict[str, Path]:
    """Write report.html, alerts.csv and alerts.parquet for the night under `.tmp` names; return them.
    The worklist files are written by DuckDB (a night can have hundreds of thousands of alerts): Parquet
    keeps lists as lists; CSV joins them with ';' and spells the non-zero priority parts out as
    `part=points` (sql/analyses/worklist_csv.sql)."""
    as_of = _run(con, run_id).get("as_of")
    night_dir = Path(out_dir) / str(as_of)
    night_dir.mkdir(parents=True, exist_ok=True)
    html = render_report(con, run_id)  # stages `report_worklist`, which the files are written from
    report = night_dir / "report.html.tmp"
    report.write_text(html, encoding="utf-8")
    worklist = night_dir / "alerts.csv.tmp"
    copy_to(con, "analyses/worklist_csv.sql", worklist, options="format csv, header true")
    parquet = night_dir / "alerts.parquet.tmp"
    copy_to(con, "analyses/worklist_parquet.sql", parquet)
    drop_tables(con, "report_worklist")
    quality = night_dir / "data-quality.html.tmp"
    quality.write_text(render_data_quality(con, run_id, "report.html"), encoding="utf-8")
    (night_dir / "failed.html").unlink(missing_ok=True)  # an earlier failed run of this night
    return {"report": report, "alerts": worklist, "alerts_parquet": parquet, "data_quality": quality}
