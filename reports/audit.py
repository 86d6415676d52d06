"""The nightly audit report (one self-contained HTML file) and the worklist CSV, for pharmacists.

Presentation only: everything shown is read from the warehouse tables of the night. Files are
written under a `.tmp` name; the flow moves them into place after the warehouse commit.
"""

from __future__ import annotations

import csv
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

import duckdb

from serosurv.warehouse import rows

STATUS_ORDER = ("new", "changed", "ongoing", "resolved")
WORKLIST_COLUMNS = (
    "alert_id", "status", "priority", "severity", "patient_id", "ingredient_a", "ingredient_b", "rule_id",
    "kind", "first_overlap_date", "last_overlap_date", "overlap_days", "longest_overlap_days",
    "washout_gap_days", "initiation_order", "cross_prescriber", "cross_pharmacy", "prescriber_ids_a",
    "prescriber_ids_b", "pharmacy_ids_a", "pharmacy_ids_b", "n_serotonergic_prescribers", "claim_ids_a",
    "claim_ids_b", "guidance",
)  # fmt: skip

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d232a;max-width:1200px}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f3f5f7}.muted{color:#57606a}.ok{color:#116329}.bad{color:#a40e26;font-weight:600}
.sev{display:inline-block;padding:0 .4rem;border-radius:.6rem;font-size:.75rem;color:#fff}
.contraindicated{background:#a40e26}.major{background:#c2410c}.moderate{background:#9a6700}.minor{background:#57606a}
.status{font-weight:600;text-transform:uppercase;font-size:.75rem}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #d0d7de;border-radius:.4rem;padding:.6rem 1rem}
.card b{display:block;font-size:1.3rem}
@media print{body{margin:.5cm}h2{page-break-after:avoid}tr{page-break-inside:avoid}}
"""


class Raw(str):
    """Markup built here from escaped parts, shown as is."""


def _cell(value: Any) -> str:
    if isinstance(value, Raw):
        return value
    if value is None:
        return '<span class="muted">unknown</span>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return escape(", ".join(str(v) for v in value)) or '<span class="muted">none</span>'
    if isinstance(value, float):
        return f"{value:.1f}"
    return escape(str(value))


def _table(headers: list[str], body: list[list[Any]], empty: str = "Nothing to show.") -> str:
    if not body:
        return f'<p class="muted">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    lines = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{lines}</tbody></table>"


def _worklist(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    """Tonight's alerts with their explanation, new and changed first, then by priority."""
    cursor = con.execute(
        """
        SELECT a.alert_id, a.status, a.priority, a.severity, a.patient_id, a.ingredient_a, a.ingredient_b,
               a.rule_id, a.kind, a.first_overlap_date, a.last_overlap_date, a.overlap_days,
               i.longest_overlap_days, i.washout_gap_days, i.initiation_order, a.cross_prescriber,
               a.cross_pharmacy, i.prescriber_ids_a, i.prescriber_ids_b, i.pharmacy_ids_a, i.pharmacy_ids_b,
               i.n_serotonergic_prescribers, i.claim_ids_a, i.claim_ids_b, r.clinical_guidance AS guidance
        FROM alerts AS a
        JOIN alert_history AS h ON h.alert_id = a.alert_id AND h.run_id = $run_id
        LEFT JOIN interactions AS i ON i.interaction_id = a.alert_id
        LEFT JOIN rules_catalog AS r ON r.rule_id = a.rule_id
        ORDER BY list_position(['new', 'changed', 'ongoing', 'resolved'], a.status), a.priority DESC, a.alert_id
        """,
        {"run_id": run_id},
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _explanation(alert: dict[str, Any]) -> str:
    a, b = alert["ingredient_a"], alert["ingredient_b"]
    if alert["kind"] == "washout":
        first, second = (a, b) if alert["initiation_order"] == "a_first" else (b, a)
        what = (
            f"{second} started {alert['washout_gap_days']} day(s) after the last covered day of {first}, "
            f"inside the washout window ({alert['first_overlap_date']})"
        )
    else:
        what = (
            f"{a} and {b} covered together on {alert['overlap_days']} day(s) "
            f"({alert['first_overlap_date']} to {alert['last_overlap_date']})"
        )
    fragmentation = {True: "different prescribers", False: "a shared prescriber", None: "prescriber unknown"}
    return f"{what}; {fragmentation[alert['cross_prescriber']]}."


def _alert_section(alerts: list[dict[str, Any]]) -> str:
    parts = []
    for status in STATUS_ORDER:
        chosen = [a for a in alerts if a["status"] == status]
        parts.append(f"<h3>{status.capitalize()} ({len(chosen)})</h3>")
        body = [
            [
                round(a["priority"] or 0, 1),
                Raw(f'<span class="sev {escape(a["severity"] or "")}">{escape(a["severity"] or "")}</span>'),
                a["patient_id"],
                f"{a['ingredient_a']} + {a['ingredient_b']}",
                a["rule_id"],
                a["kind"],
                _explanation(a) if a["kind"] else "",
                a["prescriber_ids_a"],
                a["prescriber_ids_b"],
                a["pharmacy_ids_a"],
                a["pharmacy_ids_b"],
                a["guidance"],
            ]
            for a in chosen[:500]
        ]
        table = _table(
            ["priority", "severity", "patient", "pair", "rule", "kind", "explanation", "prescribers A",
             "prescribers B", "pharmacies A", "pharmacies B", "guidance"],
            body, f"No {status} alerts tonight.",
        )  # fmt: skip
        parts.append(table)
        if len(chosen) > 500:
            parts.append(f'<p class="muted">{len(chosen) - 500} more in the worklist CSV.</p>')
    return "".join(parts)


def render_report(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[str, list[dict[str, Any]]]:
    run = con.execute("SELECT * FROM runs WHERE run_id = $r", {"r": run_id}).fetchall()
    names = [d[0] for d in con.execute("SELECT * FROM runs LIMIT 0").description]
    info = dict(zip(names, run[0], strict=True)) if run else {}
    alerts = _worklist(con, run_id)
    counts = {s: sum(1 for a in alerts if a["status"] == s) for s in STATUS_ORDER}
    reconciled = info.get("rows_read") == (info.get("rows_accepted") or 0) + (
        info.get("rows_quarantined") or 0
    )
    cards = "".join(
        f'<div class="card">{escape(label)}<b>{value}</b></div>'
        for label, value in [
            ("rows read", f"{info.get('rows_read') or 0:,}"),
            ("accepted", f"{info.get('rows_accepted') or 0:,}"),
            ("quarantined", f"{info.get('rows_quarantined') or 0:,}"),
            ("new alerts", counts["new"]),
            ("changed", counts["changed"]),
            ("ongoing", counts["ongoing"]),
            ("resolved", counts["resolved"]),
        ]
    )
    quarantine = rows(
        con,
        "SELECT reason_code, count(*), min(source_file || ' row ' || source_row), any_value(reason) "
        "FROM quarantine WHERE run_id = $r GROUP BY 1 ORDER BY 2 DESC",
        {"r": run_id},
    )
    unmapped = rows(
        con, "SELECT drug_name, ndc, fills, patients FROM unmapped_drugs WHERE run_id = $r "
        "ORDER BY fills DESC LIMIT 25", {"r": run_id},
    )  # fmt: skip
    quality = rows(
        con, "SELECT suite, expectation, success, observed FROM dq_results WHERE run_id = $r", {"r": run_id}
    )
    fragmentation = rows(
        con,
        """
        SELECT severity,
               count(*) FILTER (WHERE cross_prescriber), count(*) FILTER (WHERE NOT cross_prescriber),
               count(*) FILTER (WHERE cross_prescriber IS NULL), count(*) FILTER (WHERE cross_pharmacy),
               count(*) FILTER (WHERE n_serotonergic_prescribers >= 3), count(*)
        FROM interactions WHERE interaction_id IN
            (SELECT alert_id FROM alert_history WHERE run_id = $r AND status <> 'resolved')
        GROUP BY severity ORDER BY max(severity_rank) DESC
        """,
        {"r": run_id},
    )
    attrition = rows(
        con, "SELECT measure, value FROM attrition WHERE run_id = $r ORDER BY step", {"r": run_id}
    )
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>serosurv audit {escape(str(info.get("as_of")))}</title>
<style>{CSS}</style></head><body>
<h1>Serotonergic co-prescribing audit — night of {escape(str(info.get("as_of")))}</h1>
<p class="muted">Run {escape(run_id)} · generated {datetime.now():%Y-%m-%d %H:%M} · rules {
        escape(str(info.get("rules_hash")))
    }
· configuration {escape(str(info.get("config_hash")))}</p>
<div class="cards">{cards}</div>
<p>{
        '<span class="ok">Rows reconcile</span>'
        if reconciled
        else '<span class="bad">Rows do not reconcile</span>'
    }:
every row read was accepted or quarantined with a reason. Inputs: {escape(str(info.get("input_files")))}</p>
<h2>Alerts — new and changed first</h2>
<p class="muted">Priority: severity first (100 points per level), then +20 different prescribers, +10 different
pharmacies, +5 washout, +5 co-exposure in the last 7 days, up to +5 for overlap length, +2 for three or more
serotonergic prescribers.</p>
{_alert_section(alerts)}
<h2>Fragmentation of current interactions</h2>
{
        _table(
            [
                "severity",
                "cross-prescriber",
                "same prescriber",
                "prescriber unknown",
                "cross-pharmacy",
                "3+ serotonergic prescribers",
                "total",
            ],
            [list(r) for r in fragmentation],
            "No current interactions.",
        )
    }
<h2>Data quality</h2>
{_table(["suite", "expectation", "passed", "observed"], [list(r) for r in quality], "No results recorded.")}
<h3>Quarantined rows by reason</h3>
{
        _table(
            ["reason", "rows", "first example", "example reason"],
            [list(r) for r in quarantine],
            "No row was quarantined.",
        )
    }
<h3>Unmapped drugs (top 25)</h3>
{_table(["drug name", "NDC", "fills", "patients"], [list(r) for r in unmapped], "Every drug was mapped.")}
<h2>Attrition</h2>
{_table(["measure", "value"], [list(r) for r in attrition])}
<h2>Parameters</h2><pre>{escape(str(info.get("parameters")))}</pre>
</body></html>"""
    return html, alerts


def write_night_reports(con: duckdb.DuckDBPyConnection, run_id: str, out_dir: Path) -> dict[str, Path]:
    """Write report.html and alerts.csv for the night under `.tmp` names; return the temporary paths."""
    as_of = rows(con, "SELECT as_of FROM runs WHERE run_id = $r", {"r": run_id})[0][0]
    night_dir = Path(out_dir) / str(as_of)
    night_dir.mkdir(parents=True, exist_ok=True)
    html, alerts = render_report(con, run_id)
    report = night_dir / "report.html.tmp"
    report.write_text(html, encoding="utf-8")
    worklist = night_dir / "alerts.csv.tmp"
    with worklist.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=WORKLIST_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for alert in alerts:
            writer.writerow(
                {k: ";".join(map(str, v)) if isinstance(v, list) else v for k, v in alert.items()}
            )
    return {"report": report, "alerts": worklist}
