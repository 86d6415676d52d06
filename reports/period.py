"""The audit of a period (`serosurv audit --from DATE --to DATE`): every interaction active in the period,
whether or not it was ever on a worklist (a research extract of five years has interactions long before
its first night's 30-day lookback), with the nightly report's cards and timelines, grouped by severity and
then fragmentation (different prescribers and pharmacies first), and the same filters; CSV and Parquet
beside it with every interaction.

It only reads: `period_audit_data` runs the queries (sql/analyses/period_interactions.sql and the timelines'
fills and episodes) on a read-only connection the caller closes before `write_period_audit` renders and
writes, and no alert state is touched (an audit records nothing in alert_history or alerts).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from reports.audit import (
    APPROXIMATE_CLAIMS,
    FRAGMENTATION_WORDS,
    _parameters,
    night_rules,
    presented,
    timeline_data,
)
from reports.html import render
from reports.timeline import timeline_svg
from serosurv.core.severity import SEVERITIES, clinical_significance
from transforms.runs import latest_success
from transforms.sql import fetch_frame, fetch_one

MAX_CARDS = 1000  # interactions drawn as cards with a timeline, in the audit's order
MAX_TABLE_ROWS = 5000  # the next ones listed in a table; the CSV and Parquet files have every one
TOP_ROWS = 10  # on the first page
LIST_COLUMNS = (
    "prescriber_ids_a",
    "prescriber_ids_b",
    "pharmacy_ids_a",
    "pharmacy_ids_b",
    "claim_ids_a",
    "claim_ids_b",
    "approximate_names",
)


def period_audit_data(con: duckdb.DuckDBPyConnection, date_from: date, date_to: date) -> dict[str, Any]:
    """Everything the audit of [date_from, date_to] shows, read from the warehouse (read-only): the
    interactions in the audit's order as a DataFrame, the fills and episodes of those drawn, the latest
    successful night (whose tables these are) and its settings."""
    night = latest_success(con) or {}
    info = fetch_one(con, "analyses/run_by_id.sql", {"run_id": night.get("run_id")}) or {}
    codes = [code for _, code in sorted(clinical_significance().items())]
    frame = fetch_frame(
        con,
        "analyses/period_interactions.sql",
        {"date_from": date_from, "date_to": date_to, "clinical_significance": codes},
        inputs=APPROXIMATE_CLAIMS,
    )
    charted = [_card(row, info.get("as_of")) for row in frame.head(MAX_CARDS).to_dicts()]
    fills, episodes, washouts = timeline_data(con, charted, night_rules(info))
    return {
        "date_from": date_from,
        "date_to": date_to,
        "run": info,
        "interactions": frame,
        "charted": charted,
        "fills": fills,
        "episodes": episodes,
        "washouts": washouts,
    }


def _card(row: dict[str, Any], night: date | None) -> dict[str, Any]:
    """An interaction with what the nightly report's card expects of an alert."""
    return {
        **row,
        "card_id": row["interaction_id"][:16],
        "as_of": night,
        "unreviewed": False,
        "status_reasons": [],
        "carried_over": False,
    }


def _groups(cards: list[tuple[dict[str, Any], str | None]]) -> list[dict[str, Any]]:
    """Cards grouped by severity, then fragmentation, in the audit's order."""
    groups: list[dict[str, Any]] = []
    for card, svg in cards:
        if not groups or groups[-1]["severity"] != card["severity"]:
            groups.append({"severity": card["severity"], "parts": []})
        parts = groups[-1]["parts"]
        if not parts or parts[-1]["rank"] != card["fragmentation_rank"]:
            parts.append(
                {
                    "rank": card["fragmentation_rank"],
                    "words": FRAGMENTATION_WORDS[card["fragmentation_rank"]],
                    "cards": [],
                }
            )
        parts[-1]["cards"].append((card, svg))
    return groups


def _counts(frame: pl.DataFrame) -> tuple[list[str], list[list[Any]]]:
    """Interactions per severity (rows) and fragmentation (columns), with totals."""
    headers = ["severity", *FRAGMENTATION_WORDS.values(), "all", "patients", "ever alerted"]
    rows = []
    for severity in [*SEVERITIES, None]:
        part = frame if severity is None else frame.filter(pl.col("severity") == severity)
        if severity is not None and part.is_empty():
            continue
        by_rank = dict(part.group_by("fragmentation_rank").len().iter_rows()) if part.height else {}
        rows.append(
            [
                severity or "all",
                *(by_rank.get(rank, 0) for rank in FRAGMENTATION_WORDS),
                part.height,
                part.get_column("patient_id").n_unique() if part.height else 0,
                part.get_column("alert_id").drop_nulls().len() if part.height else 0,
            ]
        )
    return headers, rows


def render_period_audit(data: dict[str, Any]) -> str:
    """The audit's HTML page (no warehouse needed: everything is in `data`)."""
    frame: pl.DataFrame = data["interactions"]
    night = data["run"].get("as_of")
    cards = [presented(card) for card in data["charted"]]
    drawn = [
        (
            card,
            timeline_svg(
                card,
                data["fills"].get(card["card_id"], []),
                data["episodes"].get(card["card_id"], []),
                data["washouts"].get(card["card_id"]),
            ),
        )
        for card in cards
    ]
    rest_rows = frame.slice(MAX_CARDS, MAX_TABLE_ROWS).to_dicts()
    rest = [presented(_card(row, night)) for row in rest_rows]
    headers, counts = _counts(frame)
    return render(
        "period_audit.html.j2",
        date_from=data["date_from"],
        date_to=data["date_to"],
        run=data["run"],
        night=night,
        generated=datetime.now(),
        total=frame.height,
        patients=frame.get_column("patient_id").n_unique() if frame.height else 0,
        alerted=frame.get_column("alert_id").drop_nulls().len() if frame.height else 0,
        count_headers=headers,
        counts=counts,
        top=cards[:TOP_ROWS],
        groups=_groups(drawn),
        rest=rest,
        n_rest=max(frame.height - MAX_CARDS, 0),
        max_table_rows=MAX_TABLE_ROWS,
        severities=SEVERITIES,
        parameters=_parameters(data["run"]),
    )


def write_period_audit(data: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """audit_FROM_TO.html, .csv and .parquet in `out_dir`: the page, and every interaction (lists joined
    with ';' in the CSV, kept as lists in the Parquet; the priority parts as JSON in both)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"audit_{data['date_from']}_{data['date_to']}"
    page = stem.with_suffix(".html")
    page.write_text(render_period_audit(data), encoding="utf-8")
    frame: pl.DataFrame = data["interactions"]
    parts = [
        json.dumps(p, sort_keys=False) if p is not None else None
        for p in frame.get_column("priority_parts").to_list()
    ]
    files = frame.with_columns(pl.Series("priority_parts", parts, dtype=pl.String))
    parquet = stem.with_suffix(".parquet")
    files.write_parquet(parquet)
    csv = stem.with_suffix(".csv")
    files.with_columns(pl.col(c).list.join(";") for c in LIST_COLUMNS).write_csv(csv)
    return {"report": page, "csv": csv, "parquet": parquet}
