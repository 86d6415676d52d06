"""The quality dashboard's tables, computed and suppressed: monthly people with an interaction by severity
and their rate per 1,000 exposed, fragmentation shares, the top drug and class pairs, the prescribers and
pharmacies in the most fragmented interactions, and alert outcomes. No patient identifier leaves here.

Counts from 1 to min_cell_count - 1 ([research] settings of the latest successful night) are replaced by
the suppressed mark ("<11"), a count hidden only so that one of those cannot be recovered by subtraction by
"suppressed" (the smallest severity, never the total when a severity will do: transforms/suppression.py),
and every rate or share computed from a hidden count is left out (None). Periods side by side (the last
quarter and year of the range against the same span one quarter and one year earlier) are suppressed the
same way. Outcomes are counted by the night an action was recorded in. A range with no exposure at all is
one sentence, not a page of zeros. reports/dashboard.py only draws and lays out what this returns.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import duckdb
import polars as pl

from serosurv.core.config import ResearchConfig, recorded_config
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import RuleSet
from serosurv.core.severity import SEVERITIES, SEVERITY_RANK
from serosurv.core.vocabularies import label
from transforms.runs import latest_success
from transforms.sql import fetch, fetch_frame, fetch_one
from transforms.suppression import SUPPRESSED_WORD, is_small, suppress_cells

TOP_N = 15  # rows of the pair, class pair, prescriber and pharmacy tables
TABLES = ("comparison", "rates", "shares", "pairs", "classes", "prescribers", "pharmacies", "outcomes")
_SEVERITY_OF_RANK = {rank: severity for severity, rank in SEVERITY_RANK.items()}


class _Suppression:
    """Shown values under one minimum cell size."""

    def __init__(self, research: ResearchConfig) -> None:
        self.min_cell = research.min_cell_count
        self.mark = research.suppressed_mark

    def small(self, value: int | None) -> bool:
        return is_small(value, self.min_cell)

    def shown(self, value: int | None, hidden: bool) -> str | int:
        """The count, "<11" when it is small itself, "suppressed" when it is hidden to protect another."""
        if not hidden:
            return value or 0
        return self.mark if self.small(value) else SUPPRESSED_WORD

    def rate(self, numerator: int, denominator: int, hidden: bool, per: int = 1000) -> float | None:
        if hidden or not denominator or self.small(denominator):
            return None
        return round(per * numerator / denominator, 2)


def dashboard_data(
    con: duckdb.DuckDBPyConnection,
    date_from: date,
    date_to: date,
    ruleset: RuleSet,
    research: ResearchConfig | None = None,
) -> dict[str, Any]:
    """Every table the dashboard shows, already suppressed (lists of dicts, no patient identifiers), with
    the range, the latest successful night (`run`) and the suppression applied (`min_cell_count`,
    `suppressed_mark`). `research` defaults to the latest successful night's [research] settings."""
    run = latest_success(con) or {}
    if research is None:
        research = recorded_config(run.get("parameters")).research
    cut = _Suppression(research)
    params = {"date_from": date_from, "date_to": date_to}
    monthly = _period_counts(con, _months(date_from, date_to)).select(
        pl.col("period_start").alias("month_start"), pl.exclude("period", "period_start", "period_end")
    )
    exposed_total = fetch_one(con, "analyses/dashboard_exposed_people.sql", params)["exposed"]
    if not exposed_total:
        first = fetch_one(con, "analyses/first_episode_start.sql")["first_episode_start"]
        span = f"its data runs from {first} to {run['as_of']}" if first and run else "it holds no episode yet"
        raise SerosurvError(
            f"No one was exposed to a serotonergic drug between {date_from} and {date_to} in the warehouse "
            f"({span}); choose dates inside the data."
        )
    pairs = fetch(con, "analyses/dashboard_pair_people.sql", params)
    classes = {name: agent.drug_class for name, agent in ruleset.agents.items()}
    class_people = fetch(
        con,
        "analyses/dashboard_class_pair_people.sql",
        {
            **params,
            "ingredients_a": [a for a, _, _, _ in pairs],
            "ingredients_b": [b for _, b, _, _ in pairs],
            "class_pairs": [
                " + ".join(sorted((classes.get(a, "other"), classes.get(b, "other")), key=str.lower))
                for a, b, _, _ in pairs
            ],
        },
    )
    providers = {
        role: _providers(fetch(con, "marts/dashboard_providers.sql", {**params, "role": role}), cut)
        for role in ("prescriber", "pharmacy")
    }
    rates = _rates(monthly, cut)
    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "exposed": cut.shown(exposed_total, cut.small(exposed_total)),
        "comparison": _comparison(con, date_to, cut),
        "comparison_columns": comparison_columns(date_to),
        "no_data_months": _runs(sorted({r["month"] for r in rates if r["exposed"] == 0})),
        "rates": rates,
        "shares": _shares(monthly, cut),
        "pairs": _ranked([(f"{a} + {b}", n, rank) for a, b, n, rank in pairs], exposed_total, cut),
        "classes": _ranked(class_people, exposed_total, cut),
        "prescribers": providers["prescriber"],
        "pharmacies": providers["pharmacy"],
        "outcomes": _outcomes(con, params, cut),
        "run": run,
        # fields the period's sources never carry: fragmentation across them cannot be measured
        "absent": [field for field, _ in fetch(con, "analyses/absent_fields_in_period.sql", params)],
        "min_cell_count": cut.min_cell,
        "suppressed_mark": cut.mark,
        "suppressed_word": SUPPRESSED_WORD,
    }


def _runs(months: list[str]) -> list[str]:
    """Consecutive months ('2025-04', '2025-05', '2025-06', '2025-09') as runs ('2025-04 to 2025-06', '2025-09')."""
    found: list[list[str]] = []
    for month in months:
        year, number = int(month[:4]), int(month[5:])
        before = f"{year - (number == 1)}-{12 if number == 1 else number - 1:02d}"
        if found and found[-1][-1] == before:
            found[-1].append(month)
        else:
            found.append([month])
    return [run[0] if len(run) == 1 else f"{run[0]} to {run[-1]}" for run in found]


def compared_periods(date_to: date) -> list[tuple[str, str, date, date]]:
    """(comparison, period label, first day, last day): the quarter to date of `date_to` and the same days
    one quarter earlier; the year to date and the same days one year earlier (like for like when the range
    ends mid-quarter or mid-year)."""
    quarter_start = date(date_to.year, 3 * ((date_to.month - 1) // 3) + 1, 1)
    previous_quarter = _shift_months(quarter_start, -3)
    previous_quarter_end = min(_shift_months(date_to, -3), quarter_start - timedelta(days=1))
    year_start = date(date_to.year, 1, 1)
    previous_year_end = min(_shift_months(date_to, -12), year_start - timedelta(days=1))
    quarter = f"Q{(date_to.month - 1) // 3 + 1}"
    before = f"Q{(previous_quarter.month - 1) // 3 + 1}"
    return [
        ("quarter", f"{date_to.year}-{quarter}", quarter_start, date_to),
        ("quarter", f"{previous_quarter.year}-{before}", previous_quarter, previous_quarter_end),
        ("year", f"{date_to.year}", year_start, date_to),
        ("year", f"{date_to.year - 1}", date(date_to.year - 1, 1, 1), previous_year_end),
    ]


def _period_counts(con: duckdb.DuckDBPyConnection, periods: list[tuple[str, date, date]]) -> pl.DataFrame:
    """sql/marts/dashboard_periods.sql for (label, first day, last day) periods."""
    return fetch_frame(
        con,
        "marts/dashboard_periods.sql",
        {
            "labels": [label for label, _, _ in periods],
            "starts": [start for _, start, _ in periods],
            "ends": [end for _, _, end in periods],
        },
    )


def _months(date_from: date, date_to: date) -> list[tuple[str, date, date]]:
    """The calendar months from date_from's to date_to's, as (label, first day, last day)."""
    months, start = [], date_from.replace(day=1)
    while start <= date_to:
        following = _shift_months(start, 1)
        months.append((start.isoformat(), start, following - timedelta(days=1)))
        start = following
    return months


def _shift_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    following = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day.day, (following - timedelta(days=1)).day))


def _comparison(con: duckdb.DuckDBPyConnection, date_to: date, cut: _Suppression) -> list[dict[str, Any]]:
    """Periods side by side: per comparison (quarter, year) and measure, the period and the one before
    it with their dates, counts suppressed as in the monthly table, rates per 1,000 exposed, the share of
    new interactions across prescribers and pharmacies, and "no data" for a period nobody was exposed in."""
    periods = compared_periods(date_to)
    found = _period_counts(con, [(name, start, end) for _, name, start, end in periods])
    shown: dict[str, dict[str, Any]] = {}
    for _, period_name, start, end in periods:
        part = found.filter(pl.col("period") == period_name)
        first = part.row(0, named=True)
        values = {s: 0 for s in [*SEVERITIES, "any"]}
        values.update({r["severity"]: r["patients"] for r in part.iter_rows(named=True) if r["severity"]})
        hidden = suppress_cells(values, [("any", list(SEVERITIES))], cut.min_cell)
        exposed = first["exposed"]
        exposed_hidden = cut.small(exposed)
        cells: dict[str, Any] = {"people exposed": (cut.shown(exposed, exposed_hidden), None)}
        for severity, n in values.items():
            name = (
                "people with any interaction"
                if severity == "any"
                else f"people with a {severity} interaction"
            )
            cells[name] = (
                cut.shown(n, severity in hidden),
                cut.rate(n, exposed, severity in hidden or exposed_hidden),
            )
        shares = _shares(pl.DataFrame([{**first, "month_start": start}]), cut)[0]
        cells["share of new interactions across prescribers"] = (None, shares["share_cross_prescriber"])
        cells["share of new interactions across pharmacies"] = (None, shares["share_cross_pharmacy"])
        shown[period_name] = {"start": start, "end": end, "empty": not exposed, "cells": cells}
    rows = []
    for measure in shown[periods[0][1]]["cells"]:
        row: dict[str, Any] = {"measure": measure}
        for _, period_name, _, _ in periods:
            period = shown[period_name]
            count, rate = period["cells"][measure]
            if period["empty"]:
                row[period_name] = "no data"
            elif measure.startswith("share"):
                row[period_name] = "left out" if rate is None else f"{100 * rate:.1f}%"
            elif rate is None:
                row[period_name] = count
            else:
                row[period_name] = f"{count:,} · {rate:.1f} per 1,000" if isinstance(count, int) else count
        rows.append(row)
    return rows


def comparison_columns(date_to: date) -> list[tuple[str, str]]:
    """The side-by-side table's columns: the measure, then each period with its dates."""
    return [("measure", "measure")] + [
        (name, f"{name} ({start} to {end})") for _, name, start, end in compared_periods(date_to)
    ]


def _rates(monthly: pl.DataFrame, cut: _Suppression) -> list[dict[str, Any]]:
    """Monthly people with an interaction, by severity and in total ('any'); the total counts as the sum
    of the severities for complementary suppression (a person with two severities makes it smaller, never
    larger)."""
    months = monthly.select("month_start", "exposed").unique().sort("month_start")
    found: list[dict[str, Any]] = []
    for month, exposed in months.iter_rows():
        part = {s: n for _, _, s, n, *_ in monthly.filter(pl.col("month_start") == month).iter_rows() if s}
        values = {s: part.get(s, 0) for s in [*SEVERITIES, "any"]}
        hidden = suppress_cells(values, [("any", list(SEVERITIES))], cut.min_cell)
        exposed_hidden = cut.small(exposed)
        for severity, n in values.items():
            found.append(
                {
                    "month": month.isoformat()[:7],
                    "severity": severity,
                    "patients": cut.shown(n, severity in hidden),
                    "exposed": cut.shown(exposed, exposed_hidden),
                    "rate_per_1000": cut.rate(n, exposed, severity in hidden or exposed_hidden),
                }
            )
    return found


def _shares(monthly: pl.DataFrame, cut: _Suppression) -> list[dict[str, Any]]:
    """Interactions started per month and the share of them across prescribers (pharmacies) among those
    whose prescribers (pharmacies) are known; a share is left out when any count behind it is small."""
    found = []
    for row in monthly.unique("month_start").sort("month_start").iter_rows(named=True):
        known_p = row["cross_prescriber"] + row["same_prescriber"]
        known_h = row["cross_pharmacy"] + row["same_pharmacy"]
        hide_p = cut.small(row["cross_prescriber"]) or cut.small(known_p) or cut.small(row["same_prescriber"])
        hide_h = cut.small(row["cross_pharmacy"]) or cut.small(known_h) or cut.small(row["same_pharmacy"])
        found.append(
            {
                "month": row["month_start"].isoformat()[:7],
                "interactions_started": cut.shown(row["started"], cut.small(row["started"])),
                "cross_prescriber": cut.shown(row["cross_prescriber"], hide_p),
                "share_cross_prescriber": None
                if hide_p or not known_p
                else round(row["cross_prescriber"] / known_p, 3),
                "cross_pharmacy": cut.shown(row["cross_pharmacy"], hide_h),
                "share_cross_pharmacy": None
                if hide_h or not known_h
                else round(row["cross_pharmacy"] / known_h, 3),
            }
        )
    return found


def _ranked(found: list[tuple[str, int, int]], exposed: int, cut: _Suppression) -> list[dict[str, Any]]:
    """The TOP_N rows with the most people: people, rate per 1,000 exposed and the most severe level."""
    ranked = sorted(found, key=lambda r: (-r[1], r[0]))[:TOP_N]
    return [
        {
            "pair": name,
            "patients": cut.shown(n, cut.small(n)),
            "rate_per_1000": cut.rate(n, exposed, cut.small(n)),
            "severity": _SEVERITY_OF_RANK.get(rank, "unknown"),
        }
        for name, n, rank in ranked
    ]


def _providers(found: list[tuple[str, int, int]], cut: _Suppression) -> list[dict[str, Any]]:
    """The TOP_N providers in the most fragmented interactions; both counts hidden when either is small."""
    return [
        {
            "provider_id": provider,
            "interactions": cut.shown(n, cut.small(n) or cut.small(people)),
            "interactions_value": None if cut.small(n) or cut.small(people) else n,
            "patients": cut.shown(people, cut.small(people) or cut.small(n)),
        }
        for provider, n, people in found[:TOP_N]
    ]  # interactions of fewer than 11 people are hidden with them ("suppressed" when not small themselves)


def _outcomes(
    con: duckdb.DuckDBPyConnection, params: dict[str, Any], cut: _Suppression
) -> list[dict[str, Any]]:
    """Alerts acted on per action and result code, each code with its NCPDP words."""
    if not fetch_one(con, "analyses/table_exists.sql", {"name": "alert_actions"})["present"]:
        return []
    return [
        {
            "action": f"{action} {label('professional_service', action, '')}".strip(),
            "result": f"{result} {label('result_of_service', result, '')}".strip(),
            "alerts": cut.shown(n, cut.small(n)),
            "alerts_value": None if cut.small(n) else n,
        }
        for action, result, n in fetch(con, "analyses/dashboard_outcomes.sql", params)
    ]
