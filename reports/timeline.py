"""A small inline SVG timeline per alert: the two drugs' fills and episodes, the overlap or washout
window shaded, prescribers and pharmacies labelled. `timeline_layout` computes where everything goes (plain
numbers and texts); the macro in templates/timeline.svg.j2 draws it, escaped like every template. No
JavaScript, so it prints and opens anywhere; each chart is a few kilobytes.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from reports.html import macros

WIDTH, LEFT, RIGHT = 720, 110, 12
LANE, TOP = 46, 18
# Prescribers get colours in order of appearance (the same prescriber has one colour on both lanes).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
UNKNOWN_COLOUR = "#8c959f"
LABEL_CHAR_WIDTH = 5.2  # a fill's label is skipped where the previous one (about this wide per letter) runs


def timeline_svg(alert: dict[str, Any], fills: list[dict[str, Any]], episodes: list[dict[str, Any]]) -> str:
    """The chart for one alert, as SVG markup (safe to place in a template as is)."""
    return macros("timeline.svg.j2").timeline(timeline_layout(alert, fills, episodes))


def timeline_layout(
    alert: dict[str, Any], fills: list[dict[str, Any]], episodes: list[dict[str, Any]]
) -> dict[str, Any]:
    """Where the chart's parts go. `fills`: ingredient, exposure_start, exposure_end, prescriber_id,
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
                UNKNOWN_COLOUR if prescriber == "unknown" else PALETTE[len(colours) % len(PALETTE)]
            )
    washout = alert.get("kind") == "washout"
    shade_from, shade_to = first, last
    if washout:
        gap = max(alert.get("washout_gap_days") or 0, 0)  # 0 or less: started while supply was on hand
        shade_from, shade_to = first - timedelta(days=gap), first
    shade_label = "washout window" if washout else "overlap"
    lanes = []
    for lane, ingredient in enumerate((a, b)):
        drawn = []
        label_end = -1e9
        for fill in sorted(
            (f for f in fills if f["ingredient"] == ingredient), key=lambda f: f["exposure_start"]
        ):
            x1, x2 = x(fill["exposure_start"]), x(fill["exposure_end"] + timedelta(days=1))
            prescriber = fill["prescriber_id"] or "unknown"
            pharmacy = fill["pharmacy_id"] or "unknown"
            label = f"{prescriber} · {pharmacy}" if x1 >= label_end else ""
            if label:
                label_end = x1 + LABEL_CHAR_WIDTH * len(label) + 6
            drawn.append(
                {
                    "x": x1,
                    "width": max(x2 - x1 - 0.6, 1.5),
                    "colour": colours[prescriber],
                    "title": f"{ingredient} fill {fill['exposure_start']} to {fill['exposure_end']}; "
                    f"prescriber {prescriber}; pharmacy {pharmacy}",
                    "label": label,
                }
            )
        lanes.append(
            {
                "ingredient": ingredient,
                "y": TOP + lane * LANE,
                "episodes": [
                    {
                        "x": x(e["episode_start"]),
                        "width": max(x(e["episode_end"] + timedelta(days=1)) - x(e["episode_start"]), 1.5),
                        "title": f"episode {e['episode_start']} to {e['episode_end']}",
                    }
                    for e in episodes
                    if e["ingredient"] == ingredient
                ],
                "fills": drawn,
            }
        )
    return {
        "width": WIDTH,
        "height": TOP + 2 * LANE + 30,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "axis_y": TOP + 2 * LANE,
        "label": f"Timeline of {a} and {b}",
        "window": {
            "x": x(shade_from),
            "y": TOP - 6,
            "width": max(x(shade_to + timedelta(days=1)) - x(shade_from), 2),
            "height": 2 * LANE + 4,
            "fill": "#fde68a" if washout else "#f9d0c4",
            "label": shade_label,
            "title": f"{shade_label} {shade_from} to {shade_to}",
        },
        "lanes": lanes,
        "ticks": [{"x": x(tick), "day": tick} for tick in _ticks(start, end)],
        "night": {"x": x(night), "day": night} if isinstance(night, date) and start <= night <= end else None,
    }


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
