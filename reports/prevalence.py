"""Prevalence tables for researchers: the tidy table as CSV or Parquet (by the file's extension) and an
HTML summary beside it (templates/prevalence.html.j2) that shows every row of the table, stratum by stratum,
with what was asked for in words. The numbers, suppressed, come from transforms/prevalence.py; the summary
shows a primary suppressed count as "<11" and a complementary one as "suppressed"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from reports.html import render
from serosurv.core.errors import SerosurvError
from transforms.prevalence import ALL, ANY_PAIR, PrevalenceSpec
from transforms.suppression import PRIMARY, SUPPRESSED_WORD

FORMATS = (".csv", ".parquet")
PARAMETERS = (
    "measure",
    "interval_type",
    "denominator_type",
    "contribution_rule",
    "person_level",
    "case_definition",
    "suppression_min_count",
    "lookback_days",
    "episode_settings",
    "interaction_settings",
    "rules_hash",
    "config_hash",
    "run_id",
)
HEADERS = ["interval", "stratum", "people with the combination", "denominator", "estimate", "Wilson 95% CI"]


def check_out(out: Path) -> None:
    """Refuse an --out the table cannot be written as, before anything is read."""
    if Path(out).suffix.lower() not in FORMATS:
        raise SerosurvError(f"--out must end in .csv or .parquet, not '{Path(out).name}'.")


def write_prevalence(
    frame: pl.DataFrame, spec: PrevalenceSpec, out: Path, words: dict[str, str] | None = None
) -> dict[str, Path]:
    """Write the table of `transforms.prevalence.prevalence_table` (read beforehand, so the warehouse is
    closed meanwhile) to `out` (.csv or .parquet) and `out` with .html (summary; `words` from
    `transforms.prevalence.describe`); return both paths."""
    out = Path(out)
    check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(out.name + ".tmp")
    if out.suffix.lower() == ".csv":
        frame.write_csv(staged)
    else:
        frame.write_parquet(staged)
    summary = out.with_suffix(".html")
    summary.write_text(summary_html(frame, spec, words), encoding="utf-8")
    return {"table": staged.replace(out), "summary": summary}


def shown_count(value: int | None, kind: str | None, mark: str) -> str | int:
    """A count as the summary shows it: the number, the mark ("<11") when it is small, "suppressed" when
    it is hidden only to protect another count."""
    if kind is None:
        return value if value is not None else 0
    return mark if kind == PRIMARY else SUPPRESSED_WORD


def shown_estimate(row: dict[str, Any]) -> tuple[str, str]:
    """The estimate and its interval as percentages, or "suppressed" when a count behind them is hidden."""
    if row["suppressed"]:
        return SUPPRESSED_WORD, ""
    if row["estimate"] is None:
        return "no one in the denominator", ""
    return f"{100 * row['estimate']:.2f}%", f"{100 * row['ci_lower']:.2f}% – {100 * row['ci_upper']:.2f}%"


def summary_rows(frame: pl.DataFrame, mark: str) -> list[dict[str, Any]]:
    """Every row of the table, per output row (pair, class pair, any), as the summary shows it."""
    sections: dict[str, dict[str, Any]] = {}
    for r in frame.iter_rows(named=True):
        section = sections.setdefault(r["pair"], {"label": r["pair"], "row_type": r["row_type"], "rows": []})
        estimate, interval = shown_estimate(r)
        section["rows"].append(
            [
                r["interval"],
                r["stratum"],
                shown_count(r["numerator"], r["numerator_suppression"], mark),
                shown_count(r["denominator"], r["denominator_suppression"], mark),
                estimate,
                interval,
            ]
        )
    return list(sections.values())


def summary_html(frame: pl.DataFrame, spec: PrevalenceSpec, words: dict[str, str] | None = None) -> str:
    """Every row of the table, grouped by pair (any interacting pair first and open), with what was asked
    for in words and the parameters. The minimum cell size is the one the table was suppressed with (its
    suppression_min_count)."""
    first: dict[str, Any] = frame.row(0, named=True) if frame.height else {}
    min_cell = first.get("suppression_min_count") or spec.min_cell
    mark = f"<{min_cell}" if min_cell else SUPPRESSED_WORD
    sections = summary_rows(frame, mark)
    sections.sort(key=lambda s: s["label"] != ANY_PAIR)
    bands = frame.get_column("age_band").unique().to_list() if "age_band" in spec.by else []
    censored = (
        frame.filter(pl.col("left_censored")).get_column("interval").unique(maintain_order=True).to_list()
        if "left_censored" in frame.columns
        else []
    )
    return render(
        "prevalence.html.j2",
        spec=spec,
        words=words or {},
        sections=sections,
        headers=HEADERS,
        open_rows=list(spec.pairs) != [ALL],
        min_cell=min_cell,
        mark=mark,
        censored=censored,
        lookback=first.get("lookback_days"),
        age_bands=sorted((b for b in bands if b != ALL), key=_band_order),
        parameters=[[name, first.get(name, "")] for name in PARAMETERS],
    )


def _band_order(band: str) -> tuple[int, str]:
    """Age bands youngest first ('0-17', '18-44', ..., '75+'), then 'unknown'."""
    digits = band.split("-")[0].rstrip("+")
    return (int(digits), band) if digits.isdigit() else (10**6, band)
