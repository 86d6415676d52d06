"""Small HTML building blocks shared by the audit report and the quality dashboard (escaped, no templates)."""

from __future__ import annotations

from html import escape
from typing import Any

BASE_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;padding:0 1.5rem;
color:#1d232a;max-width:1200px;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
h3{font-size:1rem;margin-bottom:.3rem}
table{border-collapse:collapse;width:100%;font-size:.82rem;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f3f5f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#57606a}.ok{color:#116329}.bad{color:#a40e26;font-weight:600}
.sev{display:inline-block;padding:0 .45rem;border-radius:.6rem;font-size:.75rem;color:#fff}
.contraindicated{background:#a40e26}.major{background:#c2410c}.moderate{background:#9a6700}.minor{background:#57606a}
.cards{display:flex;gap .8rem;gap:.8rem;flex-wrap:wrap;margin:.6rem 0}
.card{border:1px solid #d0d7de;border-radius:.4rem;padding:.5rem .9rem;min-width:7rem}
.card b{display:block;font-size:1.3rem}
nav a{margin-right:.8rem}
"""


class Raw(str):
    """Markup built here from escaped parts, shown as is."""


def cell(value: Any) -> str:
    if isinstance(value, Raw):
        return value
    if value is None:
        return '<span class="muted">unknown</span>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return escape(", ".join(str(v) for v in value)) or '<span class="muted">none</span>'
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))


def table(
    headers: list[str],
    body: list[list[Any]],
    empty: str = "Nothing to show.",
    numeric: set[int] = frozenset(),
) -> str:
    """An HTML table; `numeric` are the column positions to right-align."""
    if not body:
        return f'<p class="muted">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    lines = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell(v)}</td>' if i in numeric else f"<td>{cell(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in body
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{lines}</tbody></table>"


def severity_badge(severity: str | None) -> Raw:
    text = escape(severity or "")
    return Raw(f'<span class="sev {text}">{text}</span>')


def cards(items: list[tuple[str, Any]]) -> str:
    return (
        '<div class="cards">'
        + "".join(f'<div class="card">{escape(label)}<b>{cell(value)}</b></div>' for label, value in items)
        + "</div>"
    )
