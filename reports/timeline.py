"""A small inline SVG timeline: the drugs' fills and episodes, the overlap or washout window shaded,
prescribers and pharmacies labelled. `timeline_layout` computes where everything goes (plain numbers and
texts); the macro in templates/timeline.svg.j2 draws it, escaped like every template. No JavaScript, so it
prints and opens anywhere; each chart is a few kilobytes.

The axis is scaled to what the chart is about, never to the night: an alert's chart spans its overlap, or
its washout window (from the day the first drug's supply ran out to the end of the rule's washout, or the
day the second drug started if later), with a margin of a quarter of that on each side (at least
`MIN_MARGIN_DAYS`). So a one-day fill in 1975 is as wide on the night of 2025 as it would have been in 1975;
the night is marked only when it falls inside. Fills and episodes outside the span are left out; those
that reach into it are cut at its edges (their titles keep their dates). `patient_layout` draws one lane
per ingredient over a patient's whole history, with every window shaded.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from reports.html import macros

WIDTH, LEFT, RIGHT = 720, 110, 12
LANE, TOP = 46, 18
MIN_MARGIN_DAYS = 10  # at least this many days drawn before and after the window
MARGIN_SHARE = 0.25  # ... or this share of the window's length
# Prescribers get colours in order of appearance (the same prescriber has one colour on every lane).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
UNKNOWN_COLOUR = "#8c959f"
LABEL_CHAR_WIDTH = 5.2  # a fill's label is skipped where the previous one (about this wide per letter) runs
OVERLAP_COLOUR, WASHOUT_COLOUR = "#f9d0c4", "#fde68a"


def timeline_svg(
    alert: dict[str, Any],
    fills: list[dict[str, Any]],
    episodes: list[dict[str, Any]],
    washout_days: int | None = None,
) -> str:
    """The chart for one alert (or interaction), as SVG markup (safe to place in a template as is).
    `washout_days`: the rule's washout in the direction of a washout interaction (None: unknown or none),
    to draw the whole window the rule forbids."""
    return macros("timeline.svg.j2").timeline(timeline_layout(alert, fills, episodes, washout_days))


def alert_window(alert: dict[str, Any], washout_days: int | None = None) -> dict[str, Any]:
    """The shaded window of an alert or interaction: its days (`start`, `end`), the band's label and
    colour. Overlap: the co-exposure days. Washout: from the day after the first drug's supply ran out
    (taking every dispensed dose) to the end of the rule's washout (`washout_days` after), reaching the
    day the second drug started; when that drug started while the first was still on hand, from its
    start to the day the first ran out."""
    first, last = _window(alert)
    if alert.get("kind") != "washout":
        return {"start": first, "end": last, "label": "overlap", "colour": OVERLAP_COLOUR}
    gap = alert.get("washout_gap_days")
    ran_out = first - timedelta(days=gap) if gap is not None else first
    end = max(first, ran_out + timedelta(days=washout_days)) if washout_days is not None else first
    start = min(first, ran_out + timedelta(days=1))
    words = f"washout window ({washout_days} days)" if washout_days is not None else "washout window"
    return {"start": start, "end": max(end, ran_out), "label": words, "colour": WASHOUT_COLOUR}


def timeline_layout(
    alert: dict[str, Any],
    fills: list[dict[str, Any]],
    episodes: list[dict[str, Any]],
    washout_days: int | None = None,
) -> dict[str, Any]:
    """Where the chart's parts go. `fills`: ingredient, exposure_start, exposure_end, prescriber_id,
    pharmacy_id, claim_id; `episodes`: ingredient, episode_start, episode_end."""
    window = alert_window(alert, washout_days)
    start, end = padded(window["start"], window["end"])
    night = alert.get("as_of")
    return layout(
        [alert["ingredient_a"], alert["ingredient_b"]],
        fills,
        episodes,
        [window],
        start,
        end,
        night if isinstance(night, date) else None,
        f"Timeline of {alert['ingredient_a']} and {alert['ingredient_b']}",
    )


def patient_layout(
    ingredients: list[str],
    fills: list[dict[str, Any]],
    episodes: list[dict[str, Any]],
    windows: list[dict[str, Any]],
    night: date | None,
    label: str,
) -> dict[str, Any]:
    """One lane per ingredient over everything drawn (fills, episodes, windows), with a margin."""
    days = [d for f in fills for d in (f["exposure_start"], f["exposure_end"])]
    days += [d for e in episodes for d in (e["episode_start"], e["episode_end"])]
    days += [d for w in windows for d in (w["start"], w["end"])]
    first, last = (min(days), max(days)) if days else (night or date.today(), night or date.today())
    start, end = padded(first, last)
    return layout(ingredients, fills, episodes, windows, start, end, night, label)


def patient_svg(
    ingredients: list[str],
    fills: list[dict[str, Any]],
    episodes: list[dict[str, Any]],
    windows: list[dict[str, Any]],
    night: date | None,
    label: str,
) -> str:
    return macros("timeline.svg.j2").timeline(
        patient_layout(ingredients, fills, episodes, windows, night, label)
    )


def padded(first: date, last: date) -> tuple[date, date]:
    """The span drawn around the days first..last: a quarter of their length on each side, at least
    MIN_MARGIN_DAYS."""
    margin = timedelta(days=max(MIN_MARGIN_DAYS, round(((last - first).days + 1) * MARGIN_SHARE)))
    return first - margin, last + margin


def layout(
    ingredients: list[str],
    fills: list[dict[str, Any]],
    episodes: list[dict[str, Any]],
    windows: list[dict[str, Any]],
    start: date,
    end: date,
    night: date | None,
    label: str,
) -> dict[str, Any]:
    """The chart between `start` and `end` (inclusive): one lane per ingredient, shaded `windows`
    (start, end, label, colour), the night's line when it falls inside."""
    span = max((end - start).days + 1, 1)
    inner = WIDTH - LEFT - RIGHT

    def x(day: date) -> float:
        return LEFT + inner * min(max((day - start).days, 0), span) / span

    def inside(first: date, last: date) -> bool:
        return last >= start and first <= end

    shown = [f for f in fills if inside(f["exposure_start"], f["exposure_end"])]
    colours: dict[str, str] = {}
    for fill in sorted(shown, key=lambda f: (f["exposure_start"], f["claim_id"] or "")):
        prescriber = fill["prescriber_id"] or "unknown"
        if prescriber not in colours:
            known = sum(1 for c in colours if c != "unknown")
            colours[prescriber] = UNKNOWN_COLOUR if prescriber == "unknown" else PALETTE[known % len(PALETTE)]
    lanes = []
    for lane, ingredient in enumerate(ingredients):
        drawn = []
        label_end = -1e9
        for fill in sorted(
            (f for f in shown if f["ingredient"] == ingredient), key=lambda f: f["exposure_start"]
        ):
            x1, x2 = x(fill["exposure_start"]), x(fill["exposure_end"] + timedelta(days=1))
            prescriber = fill["prescriber_id"] or "unknown"
            pharmacy = fill["pharmacy_id"] or "unknown"
            text = f"{prescriber} · {pharmacy}" if x1 >= label_end else ""
            if text:
                label_end = x1 + LABEL_CHAR_WIDTH * len(text) + 6
            drawn.append(
                {
                    "x": x1,
                    "width": max(x2 - x1 - 0.6, 1.5),
                    "colour": colours[prescriber],
                    "title": f"{ingredient} fill {fill['exposure_start']} to {fill['exposure_end']}; "
                    f"prescriber {prescriber}; pharmacy {pharmacy}",
                    "label": text,
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
                    if e["ingredient"] == ingredient and inside(e["episode_start"], e["episode_end"])
                ],
                "fills": drawn,
            }
        )
    height = max(len(ingredients), 1) * LANE
    return {
        "width": WIDTH,
        "height": TOP + height + 30,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "axis_y": TOP + height,
        "label": label,
        "start": start,
        "end": end,
        "windows": [
            {
                "x": x(w["start"]),
                "y": TOP - 6,
                "width": max(x(w["end"] + timedelta(days=1)) - x(w["start"]), 2),
                "height": height + 4,
                "fill": w["colour"],
                "label": w["label"],
                "title": f"{w['label']} {w['start']} to {w['end']}",
            }
            for w in windows
            if inside(w["start"], w["end"])
        ],
        "lanes": lanes,
        "ticks": [{"x": x(tick), "day": tick} for tick in _ticks(start, end)],
        "night": {"x": x(night), "day": night} if night is not None and start <= night <= end else None,
    }


def _window(alert: dict[str, Any]) -> tuple[date, date]:
    first = alert.get("first_overlap_date") or alert.get("as_of") or date.today()
    last = alert.get("last_overlap_date") or first
    return first, last


def _ticks(start: date, end: date) -> list[date]:
    """Ticks at round days, at most seven: the first of each month (of each year over long spans), or
    every week or few days over short ones."""
    days = (end - start).days
    if days <= 70:
        step = next(s for s in (1, 2, 7, 14) if days / s <= 7)
        first = start + timedelta(days=(-start.weekday()) % 7) if step >= 7 else start
        ticks = [first + timedelta(days=i * step) for i in range(days // step + 2)]
        return [t for t in ticks if start <= t <= end] or [start]
    if days > 5 * 366:
        ticks = [date(year, 1, 1) for year in range(start.year + 1, end.year + 1)]
    else:
        ticks, day = [], date(start.year, start.month, 1)
        while day <= end:
            if day >= start:
                ticks.append(day)
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    step = max(1, -(-len(ticks) // 7))
    return ticks[::step] or [start]
