"""Reports made from the warehouse on demand: the audit of a period, the quality dashboard and prevalence
tables. The warehouse is opened read-only and only while the numbers are read (DuckDB lets no night start while any process has
the file open, and a night running makes them wait): they are rendered and written after it is closed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from serosurv.api.warehouse import reading
from serosurv.core.errors import SerosurvError
from serosurv.core.permissions import owner_only
from serosurv.core.rules import RuleSet, load_rules
from transforms.runs import latest_success


@dataclass(frozen=True)
class PrevalenceFiles:
    table: Path  # CSV or Parquet
    summary: Path  # HTML
    left_censored: tuple[
        str, ...
    ] = ()  # intervals starting within [research] lookback_days of the first claim
    lookback_days: int = 0


@dataclass(frozen=True)
class AuditFiles:
    """The audit of a period: the page, every interaction as CSV and Parquet, how many, and the night whose
    tables it read."""

    report: Path  # HTML
    csv: Path
    parquet: Path
    interactions: int
    night: date | None


@owner_only()
def audit(
    date_from: date, date_to: date, out: Path | str = ".", warehouse: Path | str | None = None
) -> AuditFiles:
    """Write the audit of [date_from, date_to] into the folder `out`: every interaction active in the
    period (whether or not it was ever on a worklist) with the nightly report's cards, grouped by severity
    and fragmentation, and the same filters (audit_FROM_TO.html), and every interaction as
    audit_FROM_TO.csv and .parquet. The warehouse is read, never written: no alert state changes."""
    from reports.period import period_audit_data, write_period_audit

    if date_to < date_from:
        raise SerosurvError("--to must not be before --from.")
    with reading(warehouse) as con:
        if latest_success(con) is None:
            raise SerosurvError("The warehouse has no successful night yet; run one before an audit.")
        data = period_audit_data(con, date_from, date_to)
    written = write_period_audit(data, Path(out))
    return AuditFiles(
        report=written["report"].resolve(),
        csv=written["csv"].resolve(),
        parquet=written["parquet"].resolve(),
        interactions=data["interactions"].height,
        night=data["run"].get("as_of"),
    )


@owner_only()
def dashboard(
    date_from: date,
    date_to: date,
    out: Path | str = "dashboard.html",
    warehouse: Path | str | None = None,
    tables: Path | str | None = None,
) -> Path:
    """Write the quality dashboard for [date_from, date_to] (one self-contained HTML file, no patient
    identifiers, counts below the latest night's [research] min_cell_count - 11 by default - shown as
    '<11', counts hidden to protect them as 'suppressed') and, with `tables`, every table as CSV in that
    folder (comparison.csv, trend.csv, ...); returns the page's path. A range nobody was exposed in, or an --out that is not .html, is one
    sentence."""
    from reports.dashboard import check_out, write_dashboard, write_tables
    from transforms.dashboard import dashboard_data

    if date_to < date_from:
        raise SerosurvError(f"--to {date_to} must not be before --from {date_from}.")
    check_out(Path(out))
    with reading(warehouse) as con:
        data = dashboard_data(con, date_from, date_to, _ruleset(con))
    page = write_dashboard(data, Path(out)).resolve()
    if tables is not None:
        write_tables(data, Path(tables))
    return page


@owner_only()
def prevalence(
    out: Path | str,
    *,
    warehouse: Path | str | None = None,
    interval: str = "month",
    measure: str = "period",
    denominator: str = "users_of_either",
    by: list[str] | tuple[str, ...] = (),
    pairs: list[str] | tuple[str, ...] = ("all",),
    date_from: date | None = None,
    date_to: date | None = None,
) -> PrevalenceFiles:
    """Write the prevalence table (CSV or Parquet by the extension of `out`) and its HTML summary; see
    docs/prevalence.md for every term. Small cells are suppressed and people stratified by age with the
    latest night's [research] settings (min_cell_count, age_bands)."""
    from reports.prevalence import check_out, write_prevalence
    from transforms.prevalence import PrevalenceSpec, describe, prevalence_table

    spec = PrevalenceSpec(
        interval=interval,
        measure=measure,
        denominator=denominator,
        by=tuple(s.strip() for s in by),
        pairs=tuple(pairs) or ("all",),
        start=date_from,
        end=date_to,
    )
    spec.check()
    check_out(Path(out))
    with reading(warehouse) as con:
        ruleset = _ruleset(con)
        frame = prevalence_table(con, spec, ruleset)
    written = write_prevalence(frame, spec, Path(out), describe(spec, ruleset))
    censored = frame.filter(pl.col("left_censored")).get_column("interval").unique(maintain_order=True)
    return PrevalenceFiles(
        table=written["table"].resolve(),
        summary=written["summary"].resolve(),
        left_censored=tuple(censored.to_list()),
        lookback_days=int(frame.get_column("lookback_days")[0]) if frame.height else 0,
    )


def _ruleset(con: duckdb.DuckDBPyConnection) -> RuleSet:
    """The rules the latest successful night used (its rule folder, related set and jurisdiction)."""
    latest = latest_success(con)
    settings = json.loads(latest["parameters"] or "{}").get("rules", {}) if latest else {}
    directory = settings.get("directory") or None
    return load_rules(
        Path(directory) if directory else None,
        include_related=bool(settings.get("include_related")),
        jurisdiction=settings.get("jurisdiction") or "us",
    )
