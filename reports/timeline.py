"""A small inline SVG timeline per alert: the two drugs' fills and episodes, the overlap or washout
window shaded, prescribers and pharmacies labelled. Pure string building, no JavaScript, so it prints
and opens anywhere; each chart is a few kilobytes.
"""

from __future__ import annotations

from datetime import date, timedelta
from html import escape
from typing import Any

WIDTH, LEFT, RIGHT = 720, 110, 12
LANE, TOP = 46, 18
# Prescribers get colours in order of appearance (the same prescriber has one colour on both lanes).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def timeline_svg(alert: dict[str, Any], fills: list[dict[str, Any]], episodes: list[dict[str, Any]]) -> str:
    """The chart for one alert. `fills`: ingredient, exposure_start, exposure_end, prescriber_id,
    pharmacy_id, claim_id; `episodes`: ingredient, episode_start, episode_end."""
    a, b = alert["ingredient_a"], alert["ingredient_b"]
    first, last = _window(alert)
    days = [d for f in fills for d in (f["exposure_start"], f["exposure_end"])]
    days += [d for e in episodes for d in (e["episode_start"], e["episode_end"])]
    start = min([first, *[d for d in days if d >= first - timedelta(days=120)]]) - timedelta(days=3)
    end = max([last, *[d for d in days if d <= last + timedelta(days=120)]]) + timedelta(days=3)
    night = alert.get("as_of")
    if isinstance(night, date):
        end = max(end, night + timedelta(days=3))
    span = max((end - start).days, 1)
    inner = WIDTH - LEFT - RIGHT

    def x(day: date) -> float:
        return LEFT + inner * min(max((day - start).days, 0), span) / span

    colours: dict[str, str] = {}
    for fill in sorted(fills, key=lambda f: (f["exposure_start"], f["claim_id"] or "")):
        prescriber = fill["prescriber_id"] or "unknown"
        if prescriber not in colours:
            colours[prescriber] = (
                "#8c959f" if prescriber == "unknown" else PALETTE[len(colours) % len(PALETTE)]
            )
    height = TOP + 2 * LANE + 30
    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{escape(f"Timeline of {a} and {b}")}">'
    ]
    shade_from, shade_to = first, last
    shade_label = "overlap" if alert.get("kind") != "washout" else "washout window"
    if alert.get("kind") == "washout":
        gap = max(alert.get("washout_gap_days") or 0, 0)  # 0 or less: started while supply was on hand
        shade_from, shade_to = first - timedelta(days=gap), first
    parts.append(
        f'<rect class="window" x="{x(shade_from):.1f}" y="{TOP - 6}" '
        f'width="{max(x(shade_to + timedelta(days=1)) - x(shade_from), 2):.1f}" height="{2 * LANE + 4}" '
        f'fill="{"#f9d0c4" if alert.get("kind") != "washout" else "#fde68a"}" opacity="0.7">'
        f"<title>{escape(f'{shade_label} {shade_from} to {shade_to}')}</title></rect>"
    )
    parts.append(
        f'<text x="{x(shade_from) + 2:.1f}" y="{TOP - 8}" font-size="10" fill="#7a2e0e">{shade_label}</text>'
    )
    for lane, ingredient in enumerate((a, b)):
        y = TOP + lane * LANE
        parts.append(
            f'<text x="4" y="{y + 14}" font-size="11" font-weight="600" fill="#1d232a">{escape(ingredient)}</text>'
        )
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y + 10}" y2="{y + 10}" stroke="#d0d7de"/>')
        for episode in (e for e in episodes if e["ingredient"] == ingredient):
            x1, x2 = x(episode["episode_start"]), x(episode["episode_end"] + timedelta(days=1))
            parts.append(
                f'<rect class="episode" x="{x1:.1f}" y="{y + 2}" width="{max(x2 - x1, 1.5):.1f}" height="16" '
                f'rx="3" fill="none" stroke="#57606a" stroke-dasharray="3 2">'
                f"<title>episode {episode['episode_start']} to {episode['episode_end']}</title></rect>"
            )
        label_end = -1e9
        for fill in sorted(
            (f for f in fills if f["ingredient"] == ingredient), key=lambda f: f["exposure_start"]
        ):
            x1, x2 = x(fill["exposure_start"]), x(fill["exposure_end"] + timedelta(days=1))
            prescriber = fill["prescriber_id"] or "unknown"
            pharmacy = fill["pharmacy_id"] or "unknown"
            tip = (
                f"{ingredient} fill {fill['exposure_start']} to {fill['exposure_end']}; prescriber {prescriber}; "
                f"pharmacy {pharmacy}"
            )
            parts.append(
                f'<rect class="fill" x="{x1:.1f}" y="{y + 5}" width="{max(x2 - x1 - 0.6, 1.5):.1f}" height="10" '
                f'fill="{colours[prescriber]}"><title>{escape(tip)}</title></rect>'
            )
            if x1 >= label_end:
                text = f"{prescriber} · {pharmacy}"
                parts.append(
                    f'<text x="{x1:.1f}" y="{y + 29}" font-size="9" fill="{colours[prescriber]}">{escape(text)}</text>'
                )
                label_end = x1 + 5.2 * len(text) + 6
    axis_y = TOP + 2 * LANE
    for tick in _ticks(start, end):
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{axis_y - 4}" y2="{axis_y}" stroke="#57606a"/>'
            f'<text x="{x(tick):.1f}" y="{axis_y + 11}" font-size="9" text-anchor="middle" fill="#57606a">'
            f"{tick:%d %b %Y}</text>"
        )
    if isinstance(night, date) and start <= night <= end:
        parts.append(
            f'<line class="night" x1="{x(night):.1f}" x2="{x(night):.1f}" y1="{TOP - 6}" y2="{axis_y}" '
            f'stroke="#1d232a" stroke-dasharray="2 2"><title>night of {night}</title></line>'
            f'<text x="{x(night) - 2:.1f}" y="{axis_y + 22}" font-size="9" text-anchor="end" '
            f'fill="#1d232a">night {night}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _window(alert: dict[str, Any]) -> tuple[date, date]:
    first = alert.get("first_overlap_date") or alert.get("as_of") or date.today()
    last = alert.get("last_overlap_date") or first
    return first, last


def _ticks(start: date, end: date) -> list[date]:
    """First-of-month ticks, thinned to at most seven."""
    ticks, day = [], date(start.year, start.month, 1)
    while day <= end:
        if day >= start:
            ticks.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    step = max(1, -(-len(ticks) // 7))
    return ticks[::step] or [start]
