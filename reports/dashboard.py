"""The quality dashboard: one self-contained HTML file with interactive charts for quality teams.

Charts are Vega-Lite specifications built with Altair and drawn by Vega, whose JavaScript is inlined
from the vl-convert-python package: the file opens offline and calls no outside server. No patient
identifier is shown; counts of 1-10 people (or interactions) are shown as "<11" and every rate or
share computed from them is left out, with complementary suppression where a total is shown.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import altair as alt
import duckdb
import polars as pl

from reports.html import BASE_CSS, cards, table
from serosurv.core.rules import RuleSet
from serosurv.core.severity import SEVERITIES
from transforms.runs import latest_success
from transforms.sql import sql_text
from transforms.suppression import DEFAULT_MIN_CELL as MIN_CELL
from transforms.suppression import suppress_cells

SEVERITY_ORDER = SEVERITIES
SEVERITY_COLOURS = ["#a40e26", "#c2410c", "#9a6700", "#57606a"]
SUPPRESSED = "<11"
TOP_N = 15

CSS = (
    BASE_CSS
    + """
.chart{margin:.6rem 0 1rem}.chart .vega-embed{width:100%}
details{margin:.3rem 0 1rem}summary{cursor:pointer;color:#0969da}
.empty{border:1px dashed #d0d7de;border-radius:.4rem;padding:1rem;color:#57606a}
@media print{details{display:none}.chart{break-inside:avoid}}
"""
)


def _hidden(value: int | None, min_cell: int = MIN_CELL) -> bool:
    return value is not None and 0 < value < min_cell


def _shown(value: int | None, hidden: bool) -> str | int:
    return SUPPRESSED if hidden else (value or 0)


def _rate(numerator: int, denominator: int, hidden: bool, per: int = 1000) -> float | None:
    if hidden or not denominator or _hidden(denominator):
        return None
    return round(per * numerator / denominator, 2)


# ---------------------------------------------------------------------------- data


def dashboard_data(
    con: duckdb.DuckDBPyConnection, date_from: date, date_to: date, ruleset: RuleSet
) -> dict[str, Any]:
    """Every table the dashboard shows, already suppressed (lists of dicts, no patient identifiers)."""
    params = {"date_from": date_from, "date_to": date_to}
    monthly = con.sql(sql_text("marts/dashboard_monthly.sql"), params=params).pl()
    months = monthly.select("month_start", "exposed").unique().sort("month_start")
    # Monthly people with an interaction, by severity and in total; the total counts as the sum of the
    # severities for complementary suppression (a person with two severities makes it smaller, never larger).
    rate_rows: list[dict[str, Any]] = []
    for month, exposed in months.iter_rows():
        part = {s: n for _, _, s, n, *_ in monthly.filter(pl.col("month_start") == month).iter_rows() if s}
        values = {s: part.get(s, 0) for s in [*SEVERITY_ORDER, "any"]}
        hidden = suppress_cells(values, [("any", SEVERITY_ORDER)])
        exposed_hidden = _hidden(exposed)
        for severity, n in values.items():
            rate_rows.append({
                "month": month.isoformat()[:7], "severity": severity, "patients": _shown(n, severity in hidden),
                "exposed": _shown(exposed, exposed_hidden),
                "rate_per_1000": _rate(n, exposed, severity in hidden or exposed_hidden),
            })  # fmt: skip
    share_rows = []
    for row in monthly.unique("month_start").sort("month_start").iter_rows(named=True):
        known_p = row["cross_prescriber"] + row["same_prescriber"]
        known_h = row["cross_pharmacy"] + row["same_pharmacy"]
        hide_p = _hidden(row["cross_prescriber"]) or _hidden(known_p) or _hidden(row["same_prescriber"])
        hide_h = _hidden(row["cross_pharmacy"]) or _hidden(known_h) or _hidden(row["same_pharmacy"])
        share_rows.append({
            "month": row["month_start"].isoformat()[:7],
            "interactions_started": _shown(row["started"], _hidden(row["started"])),
            "cross_prescriber": _shown(row["cross_prescriber"], hide_p),
            "share_cross_prescriber": None if hide_p or not known_p else round(row["cross_prescriber"] / known_p, 3),
            "cross_pharmacy": _shown(row["cross_pharmacy"], hide_h),
            "share_cross_pharmacy": None if hide_h or not known_h else round(row["cross_pharmacy"] / known_h, 3),
        })  # fmt: skip
    exposed_total = con.execute(
        "SELECT count(DISTINCT patient_id) FROM episodes WHERE episode_start <= $date_to AND episode_end >= $date_from",
        params,
    ).fetchone()[0]
    pairs = con.execute(
        """
        SELECT ingredient_a, ingredient_b, count(DISTINCT patient_id) AS patients, max(severity_rank) AS rank
        FROM interactions
        WHERE first_overlap_date <= $date_to AND coalesce(last_overlap_date, first_overlap_date) >= $date_from
        GROUP BY ALL
        """,
        params,
    ).fetchall()
    classes = {name: agent.drug_class for name, agent in ruleset.agents.items()}
    pair_rows = _ranked([(f"{a} + {b}", n, rank) for a, b, n, rank in pairs], exposed_total)
    class_people = con.execute(
        """
        SELECT cls.class_pair, count(DISTINCT i.patient_id), max(i.severity_rank)
        FROM interactions AS i
        JOIN (SELECT unnest($a) AS ingredient_a, unnest($b) AS ingredient_b, unnest($c) AS class_pair) AS cls
          USING (ingredient_a, ingredient_b)
        WHERE i.first_overlap_date <= $date_to AND coalesce(i.last_overlap_date, i.first_overlap_date) >= $date_from
        GROUP BY 1
        """,
        {
            **params,
            "a": [a for a, _, _, _ in pairs],
            "b": [b for _, b, _, _ in pairs],
            "c": [
                " + ".join(sorted((classes.get(a, "other"), classes.get(b, "other")), key=str.lower))
                for a, b, _, _ in pairs
            ],
        },
    ).fetchall()
    class_rows = _ranked(class_people, exposed_total)
    providers = {
        role: _providers(
            con.sql(sql_text("marts/dashboard_providers.sql"), params={**params, "role": role}).fetchall()
        )
        for role in ("prescriber", "pharmacy")
    }
    return {
        "from": date_from.isoformat(), "to": date_to.isoformat(), "exposed": _shown(exposed_total, _hidden(exposed_total)),
        "rates": rate_rows, "shares": share_rows, "pairs": pair_rows, "classes": class_rows,
        "prescribers": providers["prescriber"], "pharmacies": providers["pharmacy"],
        "outcomes": _outcomes(con, date_from, date_to), "run": _run(con),
    }  # fmt: skip


def _ranked(found: list[tuple[str, int, int]], exposed: int) -> list[dict[str, Any]]:
    ranked = sorted(found, key=lambda r: (-r[1], r[0]))[:TOP_N]
    return [
        {
            "pair": label, "patients": _shown(n, _hidden(n)), "rate_per_1000": _rate(n, exposed, _hidden(n)),
            "severity": SEVERITY_ORDER[4 - rank] if rank in (1, 2, 3, 4) else "unknown",
        }
        for label, n, rank in ranked
    ]  # fmt: skip


def _providers(found: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
    return [
        {
            "provider_id": provider, "interactions": _shown(n, _hidden(n) or _hidden(people)),
            "interactions_value": None if _hidden(n) or _hidden(people) else n,
            "patients": _shown(people, _hidden(people) or _hidden(n)),
        }
        for provider, n, people in found[:TOP_N]
    ]  # fmt: skip


def _outcomes(con: duckdb.DuckDBPyConnection, date_from: date, date_to: date) -> list[dict[str, Any]]:
    present = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'alert_actions'"
    ).fetchone()[0]
    if not present:
        return []
    found = con.execute(
        """
        SELECT coalesce(action_code, 'none') AS action, coalesce(result_code, 'none') AS result,
               count(DISTINCT alert_id) AS alerts
        FROM alert_actions
        WHERE acted_at::date BETWEEN $date_from AND $date_to
        GROUP BY ALL ORDER BY alerts DESC, action, result
        """,
        {"date_from": date_from, "date_to": date_to},
    ).fetchall()
    labels = _vocabulary_labels()
    return [
        {
            "action": f"{action} {labels.get(('professional_service', action), '')}".strip(),
            "result": f"{result} {labels.get(('result_of_service', result), '')}".strip(),
            "alerts": _shown(n, _hidden(n)), "alerts_value": None if _hidden(n) else n,
        }
        for action, result, n in found
    ]  # fmt: skip


def _vocabulary_labels() -> dict[tuple[str, str], str]:
    try:
        from transforms.alerts import load_vocabularies

        return {(v, code): c.label for v, codes in load_vocabularies().items() for code, c in codes.items()}
    except Exception:  # the vocabulary is a nicety here; codes alone still read
        return {}


def _run(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    return latest_success(con) or {}


# ---------------------------------------------------------------------------- charts


def _charts(data: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    severity_scale = alt.Scale(domain=[*SEVERITY_ORDER, "any"], range=[*SEVERITY_COLOURS, "#0969da"])
    pick = alt.selection_point(fields=["severity"], bind="legend")
    rates = alt.Data(values=data["rates"])
    trend = (
        alt.Chart(rates, title="People with an interacting combination per 1,000 exposed, by month")
        .mark_line(point=True)
        .encode(
            x=alt.X("month:O", title="month"),
            y=alt.Y("rate_per_1000:Q", title="per 1,000 exposed"),
            color=alt.Color("severity:N", scale=severity_scale, title="severity (click)"),
            opacity=alt.condition(pick, alt.value(1), alt.value(0.15)),
            tooltip=["month:O", "severity:N", "rate_per_1000:Q", "patients:N", "exposed:N"],
        )
        .add_params(pick)
        .properties(width=760, height=260)
    )
    share_long = [
        {"month": r["month"], "measure": label, "share": r[key], "count": r[count]}
        for r in data["shares"]
        for label, key, count in (
            ("cross-prescriber", "share_cross_prescriber", "cross_prescriber"),
            ("cross-pharmacy", "share_cross_pharmacy", "cross_pharmacy"),
        )
    ]
    shares = (
        alt.Chart(
            alt.Data(values=share_long), title="Share of new interactions across prescribers / pharmacies"
        )
        .mark_line(point=True)
        .encode(
            x=alt.X("month:O"),
            y=alt.Y(
                "share:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]), title="share (known)"
            ),
            color=alt.Color("measure:N", scale=alt.Scale(range=["#8250df", "#1a7f37"])),
            tooltip=["month:O", "measure:N", alt.Tooltip("share:Q", format=".1%"), "count:N"],
        )
        .properties(width=760, height=220)
    )

    def drawable(rows: list[dict[str, Any]], field: str) -> bool:
        """Something to draw: a chart whose values are all suppressed shows its table instead."""
        return any(r.get(field) is not None for r in rows)

    def bars(rows: list[dict[str, Any]], field: str, title: str, label: str) -> dict[str, Any] | None:
        if not drawable(rows, field):
            return None
        return (
            alt.Chart(alt.Data(values=rows), title=title)
            .mark_bar()
            .encode(
                y=alt.Y(f"{label}:N", sort="-x", title=None),
                x=alt.X(f"{field}:Q", title=field.replace("_", " ")),
                color=alt.Color("severity:N", scale=severity_scale, legend=alt.Legend(title="most severe")),
                tooltip=[f"{label}:N", "severity:N", "patients:N", f"{field}:Q"],
            )
            .properties(width=640, height=alt.Step(18))
            .to_dict()
        )

    def provider_bars(rows: list[dict[str, Any]], title: str) -> dict[str, Any] | None:
        if not drawable(rows, "interactions_value"):
            return None
        return (
            alt.Chart(alt.Data(values=rows), title=title)
            .mark_bar(color="#8250df")
            .encode(
                y=alt.Y("provider_id:N", sort="-x", title=None),
                x=alt.X("interactions_value:Q", title="cross-prescriber interactions (<11 not drawn)"),
                tooltip=["provider_id:N", "interactions:N", "patients:N"],
            )
            .properties(width=640, height=alt.Step(18))
            .to_dict()
        )

    outcomes = None
    if drawable(data["outcomes"], "alerts_value"):
        outcomes = (
            alt.Chart(alt.Data(values=data["outcomes"]), title="Alert outcomes: action taken and its result")
            .mark_bar()
            .encode(
                y=alt.Y("action:N", title="action"),
                x=alt.X("alerts_value:Q", stack="zero", title="alerts (<11 not drawn)"),
                color=alt.Color("result:N", title="result"),
                tooltip=["action:N", "result:N", "alerts:N"],
            )
            .properties(width=640, height=alt.Step(22))
            .to_dict()
        )
    return {
        "trend": trend.to_dict() if drawable(data["rates"], "rate_per_1000") else None,
        "shares": shares.to_dict() if drawable(share_long, "share") else None,
        "pairs": bars(data["pairs"], "rate_per_1000", f"Top {TOP_N} drug pairs per 1,000 exposed", "pair"),
        "classes": bars(
            data["classes"], "rate_per_1000", f"Top {TOP_N} class pairs per 1,000 exposed", "pair"
        ),
        "prescribers": provider_bars(
            data["prescribers"], "Prescribers in the most cross-prescriber interactions"
        ),
        "pharmacies": provider_bars(data["pharmacies"], "Pharmacies in the most cross-pharmacy interactions"),
        "outcomes": outcomes,
    }


def _download(rows: list[dict[str, Any]], name: str) -> str:
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    href = "data:text/csv;charset=utf-8," + quote(buffer.getvalue())
    return f'<a download="{escape(name)}.csv" href="{href}">Download {escape(name)}.csv</a>'


def _section(
    chart_id: str, spec: dict[str, Any] | None, rows: list[dict[str, Any]], empty: str, columns: list[str]
) -> str:
    body = [[r[c] for c in columns] for r in rows]
    if spec is None:
        if rows:  # every value suppressed: say so, and still show the table
            empty = "Every count here is under 11 (suppressed), so there is nothing to draw."
            return f'<div class="empty" id="{chart_id}-empty">{escape(empty)}</div>{table(columns, body)}'
        return f'<div class="empty" id="{chart_id}-empty">{escape(empty)}</div>'
    return (
        f'<div class="chart" id="{chart_id}"></div><details><summary>Table</summary>'
        f"{table(columns, body, empty)}{_download(rows, chart_id)}</details>"
    )


def javascript_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script, from the vl-convert-python package (no network)."""
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    return vl_convert.javascript_bundle(vl_version=vl_version_for_vl_convert())


def render_dashboard(data: dict[str, Any]) -> str:
    charts = _charts(data)
    specs = {key: spec for key, spec in charts.items() if spec is not None}
    run = data["run"]
    script = javascript_bundle().replace("</script", "<\\/script")
    sections = [
        ("Trend by severity", _section("trend", charts["trend"], data["rates"], "No months in the range.",
                                       ["month", "severity", "patients", "exposed", "rate_per_1000"])),
        ("Fragmentation", _section("shares", charts["shares"], data["shares"], "No interaction started in the range.",
                                   ["month", "interactions_started", "cross_prescriber", "share_cross_prescriber",
                                    "cross_pharmacy", "share_cross_pharmacy"])),
        ("Drug pairs", _section("pairs", charts["pairs"], data["pairs"], "No interacting pair in the range.",
                                ["pair", "severity", "patients", "rate_per_1000"])),
        ("Drug classes", _section("classes", charts["classes"], data["classes"], "No interacting class pair in the range.",
                                  ["pair", "severity", "patients", "rate_per_1000"])),
        ("Prescribers", _section("prescribers", charts["prescribers"], data["prescribers"],
                                 "No cross-prescriber interaction in the range.", ["provider_id", "interactions", "patients"])),
        ("Pharmacies", _section("pharmacies", charts["pharmacies"], data["pharmacies"],
                                "No cross-pharmacy interaction in the range.", ["provider_id", "interactions", "patients"])),
        ("Alert outcomes", _section("outcomes", charts["outcomes"], data["outcomes"],
                                    "No action recorded on any alert in the range yet (serosurv alerts act ...).",
                                    ["action", "result", "alerts"])),
    ]  # fmt: skip
    body = "".join(f"<h2>{escape(title)}</h2>{html}" for title, html in sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>serosurv quality dashboard {escape(data["from"])} to {escape(data["to"])}</title><style>{CSS}</style>
<script>{script}</script></head><body>
<h1>Serotonergic co-prescribing — quality dashboard</h1>
<p class="muted">{escape(data["from"])} to {escape(data["to"])} · latest night {escape(str(run.get("as_of", "none")))}
· rules version <code>{escape(str(run.get("rules_hash") or "unknown")[:12])}</code> · configuration
<code>{escape(str(run.get("config_hash") or "unknown"))}</code> · generated {datetime.now():%Y-%m-%d %H:%M}</p>
<p class="muted">No patient identifiers. Counts of 1–10 are shown as “&lt;11” and the rates and shares computed
from them are left out (complementary suppression where a total is shown). Exposed: people with any day of a
serotonergic (rule) drug in the month; an interacting combination is an overlap or washout interaction active in
the month. Prescriber and pharmacy ids are the pseudonyms of the claims.</p>
{cards([("people exposed", data["exposed"]), ("months", len({r["month"] for r in data["rates"]}))])}
{body}
<script>
window.serosurvCharts = {{drawn: 0, failed: 0, expected: {len(specs)}}};
const specs = {json.dumps(specs, default=str)};
for (const [id, spec] of Object.entries(specs)) {{
  vegaEmbed('#' + id, spec, {{renderer: 'svg', actions: false}})
    .then(() => {{ window.serosurvCharts.drawn += 1; document.body.dataset.chartsDrawn = window.serosurvCharts.drawn; }})
    .catch((error) => {{ window.serosurvCharts.failed += 1; console.error('chart ' + id + ': ' + error); }});
}}
</script>
</body></html>"""


def write_dashboard(
    con: duckdb.DuckDBPyConnection, date_from: date, date_to: date, out: Path, ruleset: RuleSet
) -> Path:
    """Write the dashboard for [date_from, date_to] to `out` (written whole, then moved into place)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(out.name + ".tmp")
    staged.write_text(render_dashboard(dashboard_data(con, date_from, date_to, ruleset)), encoding="utf-8")
    return staged.replace(out)
