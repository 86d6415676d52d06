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
from serosurv.core.errors import SerosurvError
from serosurv.core.severity import SEVERITIES
from transforms.dashboard import TOP_N
from transforms.quality import FIELD_WORDS

SEVERITY_COLOURS = ["#a40e26", "#c2410c", "#9a6700", "#57606a"]
PER_1000 = "per 1,000 people exposed"
# (heading, id, sentence when empty, table columns as (key, header in words)) of each section, in page order;
# the id names its chart (None: a table only) and its CSV file
SECTIONS = (
    ("Periods side by side", "comparison", "No period to compare.", []),  # columns: the data's own
    (
        "Trend by severity",
        "trend",
        "No months in the range.",
        [
            ("month", "month"),
            ("severity", "severity"),
            ("patients", "people with an interaction"),
            ("exposed", "people exposed"),
            ("rate_per_1000", PER_1000),
        ],
    ),
    (
        "Fragmentation",
        "shares",
        "No interaction started in the range.",
        [
            ("month", "month"),
            ("interactions_started", "interactions started"),
            ("cross_prescriber", "across prescribers"),
            ("share_cross_prescriber", "share across prescribers (of known)"),
            ("cross_pharmacy", "across pharmacies"),
            ("share_cross_pharmacy", "share across pharmacies (of known)"),
        ],
    ),
    (
        "Drug pairs",
        "pairs",
        "No interacting pair in the range.",
        [
            ("pair", "drug pair"),
            ("severity", "most severe level"),
            ("patients", "people"),
            ("rate_per_1000", PER_1000),
        ],
    ),
    (
        "Drug classes",
        "classes",
        "No interacting class pair in the range.",
        [
            ("pair", "class pair"),
            ("severity", "most severe level"),
            ("patients", "people"),
            ("rate_per_1000", PER_1000),
        ],
    ),
    (
        "Prescribers",
        "prescribers",
        "No cross-prescriber interaction in the range.",
        [
            ("provider_id", "prescriber (pseudonymous id)"),
            ("interactions", "cross-prescriber interactions"),
            ("patients", "people"),
        ],
    ),
    (
        "Pharmacies",
        "pharmacies",
        "No cross-pharmacy interaction in the range.",
        [
            ("provider_id", "pharmacy (pseudonymous id)"),
            ("interactions", "cross-pharmacy interactions"),
            ("patients", "people"),
        ],
    ),
    (
        "Alert outcomes",
        "outcomes",
        "No action recorded on any alert on the nights of the range (serosurv alerts act ...).",
        [
            ("action", "action taken (NCPDP professional service)"),
            ("result", "result (NCPDP result of service)"),
            ("alerts", "alerts"),
        ],
    ),
)
_DATA_KEY = {"trend": "rates"}  # chart id -> key of its table in the dashboard data, where they differ
FORMATS = (".html", ".htm")


def check_out(out: Path) -> None:
    """Refuse an --out the dashboard cannot be written as (it is one HTML page), before anything is read."""
    if Path(out).suffix.lower() not in FORMATS:
        raise SerosurvError(
            f"--out must end in .html, not '{Path(out).name}': the dashboard is one HTML page (print it to PDF "
            "from a browser; --csv DIR writes its tables as CSV)."
        )


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


def table_csv(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """A table as CSV text: the headers in words, the values as the page shows them ("<11", "suppressed")."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([words for _, words in columns])
    writer.writerows([["" if r.get(key) is None else r.get(key) for key, _ in columns] for r in rows])
    return buffer.getvalue()


def _download(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """The table as a CSV data: URI (the page stays one file)."""
    if not rows:
        return ""
    return "data:text/csv;charset=utf-8," + quote(table_csv(rows, columns))


def write_tables(data: dict[str, Any], folder: Path) -> list[Path]:
    """Every table of the dashboard as CSV in `folder` (one file per section, e.g. comparison.csv,
    trend.csv, pharmacies.csv), for a P&T committee; returns the files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for _, section_id, _, columns in SECTIONS:
        columns = data.get(f"{section_id}_columns") or columns
        path = folder / f"{section_id}.csv"
        staged = path.with_name(path.name + ".tmp")
        staged.write_text(table_csv(data[_DATA_KEY.get(section_id, section_id)], columns), encoding="utf-8")
        written.append(staged.replace(path))
    return written


def _not_drawn(rows: list[dict[str, Any]], columns: list[tuple[str, str]], data: dict[str, Any]) -> str:
    """Why a section with rows has no chart, truthfully: every count in it small, or none drawable."""
    mark, word = data["suppressed_mark"], data["suppressed_word"]
    counts = [
        value
        for r in rows
        for key, _ in columns
        if (value := r.get(key)) in (mark, word) or (isinstance(value, int) and not isinstance(value, bool))
    ]
    if mark in counts and all(value in (mark, 0) for value in counts):
        return f"Every count here is under {data['min_cell_count']} (shown as “{mark}”), so there is nothing to draw."
    return (
        f"Nothing to draw: each row has a count under {data['min_cell_count']} or one hidden with it "
        "(“suppressed”), and a chart would show what the table hides. The table shows every count that can be "
        "published."
    )


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
        columns = data.get(f"{chart_id}_columns") or columns
        rows = data[_DATA_KEY.get(chart_id, chart_id)]
        sections.append(
            {
                "title": title,
                "id": chart_id,
                "chart": chart_id in charts,
                "drawn": charts.get(chart_id) is not None,
                "empty": empty,
                "why": _not_drawn(rows, columns, data) if rows and chart_id in charts else "",
                "columns": [words for _, words in columns],
                "rows": [[r.get(key) for key, _ in columns] for r in rows],
                "download": _download(rows, columns),
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
    check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(out.name + ".tmp")
    staged.write_text(render_dashboard(data), encoding="utf-8")
    return staged.replace(out)
