"""The quality dashboard: one self-contained HTML file with interactive charts for quality teams.

Charts are Vega-Lite specifications built with Altair and drawn by Vega, whose JavaScript is inlined
from the vl-convert-python package: the file opens offline and calls no outside server. The tables come
from transforms/dashboard.py, already suppressed (no patient identifier; counts below the configured
minimum cell size shown as "<11" and every rate or share computed from them left out); this module draws
them and templates/dashboard.html.j2 lays the page out.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import altair as alt
from markupsafe import Markup

from reports.html import render
from serosurv.core.severity import SEVERITIES
from transforms.dashboard import TOP_N
from transforms.quality import FIELD_WORDS

SEVERITY_COLOURS = ["#a40e26", "#c2410c", "#9a6700", "#57606a"]
# (heading, chart id, empty sentence, table columns) of each section, in page order
SECTIONS = (
    (
        "Trend by severity",
        "trend",
        "No months in the range.",
        ["month", "severity", "patients", "exposed", "rate_per_1000"],
    ),
    (
        "Fragmentation",
        "shares",
        "No interaction started in the range.",
        [
            "month",
            "interactions_started",
            "cross_prescriber",
            "share_cross_prescriber",
            "cross_pharmacy",
            "share_cross_pharmacy",
        ],
    ),
    (
        "Drug pairs",
        "pairs",
        "No interacting pair in the range.",
        ["pair", "severity", "patients", "rate_per_1000"],
    ),
    (
        "Drug classes",
        "classes",
        "No interacting class pair in the range.",
        ["pair", "severity", "patients", "rate_per_1000"],
    ),
    (
        "Prescribers",
        "prescribers",
        "No cross-prescriber interaction in the range.",
        ["provider_id", "interactions", "patients"],
    ),
    (
        "Pharmacies",
        "pharmacies",
        "No cross-pharmacy interaction in the range.",
        ["provider_id", "interactions", "patients"],
    ),
    (
        "Alert outcomes",
        "outcomes",
        "No action recorded on any alert in the range yet (serosurv alerts act ...).",
        ["action", "result", "alerts"],
    ),
)
_DATA_KEY = {"trend": "rates"}  # chart id -> key of its table in the dashboard data, where they differ


# ---------------------------------------------------------------------------- charts


def _charts(data: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    mark = data["suppressed_mark"]
    severity_scale = alt.Scale(domain=[*SEVERITIES, "any"], range=[*SEVERITY_COLOURS, "#0969da"])
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
                x=alt.X("interactions_value:Q", title=f"cross-prescriber interactions ({mark} not drawn)"),
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
                x=alt.X("alerts_value:Q", stack="zero", title=f"alerts ({mark} not drawn)"),
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


def _download(rows: list[dict[str, Any]]) -> str:
    """The table as a CSV data: URI (the page stays one file)."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return "data:text/csv;charset=utf-8," + quote(buffer.getvalue())


def javascript_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script, from the vl-convert-python package (no network)."""
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    return vl_convert.javascript_bundle(vl_version=vl_version_for_vl_convert())


def render_dashboard(data: dict[str, Any]) -> str:
    """The dashboard's HTML for the tables of `transforms.dashboard.dashboard_data`."""
    charts = _charts(data)
    sections = []
    for title, chart_id, empty, columns in SECTIONS:
        rows = data[_DATA_KEY.get(chart_id, chart_id)]
        sections.append(
            {
                "title": title,
                "id": chart_id,
                "drawn": charts[chart_id] is not None,
                "empty": empty,
                "columns": columns,
                "rows": [[r[c] for c in columns] for r in rows],
                "download": _download(rows),
            }
        )
    return render(
        "dashboard.html.j2",
        data=data,
        run=data["run"],
        generated=datetime.now(),
        sections=sections,
        specs={key: spec for key, spec in charts.items() if spec is not None},
        months=len({r["month"] for r in data["rates"]}),
        absent_words=" and ".join(FIELD_WORDS[f] for f in data.get("absent", []) if f in FIELD_WORDS),
        # the bundle is trusted code from vl-convert-python; no "</script" may end the element early
        script=Markup(javascript_bundle().replace("</script", "<\\/script")),
    )


def write_dashboard(data: dict[str, Any], out: Path) -> Path:
    """Write the dashboard of `transforms.dashboard.dashboard_data` (read beforehand, so the warehouse is
    closed while the page renders) to `out`: written whole, then moved into place."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(out.name + ".tmp")
    staged.write_text(render_dashboard(data), encoding="utf-8")
    return staged.replace(out)
