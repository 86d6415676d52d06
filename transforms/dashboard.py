"""The quality dashboard's tables, computed and suppressed: monthly people with an interaction by severity
and their rate per 1,000 exposed, fragmentation shares, the top drug and class pairs, the prescribers and
pharmacies in the most fragmented interactions, and alert outcomes. No patient identifier leaves here.

Counts from 1 to min_cell_count - 1 ([research] settings of the latest successful night) are replaced by
the suppressed mark ("<11"), every rate or share computed from one is left out (None), and the monthly
total is suppressed with its severities so that no hidden count can be recovered by subtraction
(transforms/suppression.py). reports/dashboard.py only draws and lays out what this returns.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import polars as pl

from serosurv.core.config import ResearchConfig, recorded_config
from serosurv.core.rules import RuleSet
from serosurv.core.severity import SEVERITIES, SEVERITY_RANK
from serosurv.core.vocabularies import label
from transforms.runs import latest_success
from transforms.sql import fetch, fetch_frame, fetch_one
from transforms.suppression import is_small, suppress_cells

TOP_N = 15  # rows of the pair, class pair, prescriber and pharmacy tables
TABLES = ("rates", "shares", "pairs", "classes", "prescribers", "pharmacies", "outcomes")
_SEVERITY_OF_RANK = {rank: severity for severity, rank in SEVERITY_RANK.items()}


class _Suppression:
    """Shown values under one minimum cell size."""

    def __init__(self, research: ResearchConfig) -> None:
        self.min_cell = research.min_cell_count
        self.mark = research.suppressed_mark

    def small(self, value: int | None) -> bool:
        return is_small(value, self.min_cell)

    def shown(self, value: int | None, hidden: bool) -> str | int:
        return self.mark if hidden else (value or 0)

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
    monthly = fetch_frame(con, "marts/dashboard_monthly.sql", params)
    exposed_total = fetch_one(con, "analyses/dashboard_exposed_people.sql", params)["exposed"]
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
    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "exposed": cut.shown(exposed_total, cut.small(exposed_total)),
        "rates": _rates(monthly, cut),
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
    }


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
    ]


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
