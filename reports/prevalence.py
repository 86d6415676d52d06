"""Prevalence tables for researchers: the tidy table as CSV or Parquet (by the file's extension) and a
short HTML summary beside it (templates/prevalence.html.j2). The numbers, suppressed, come from
transforms/prevalence.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from reports.html import render
from serosurv.core.errors import SerosurvError
from transforms.prevalence import ALL, ANY_PAIR, PrevalenceSpec

FORMATS = (".csv", ".parquet")
PARAMETERS = (
    "measure",
    "interval_type",
    "denominator_type",
    "contribution_rule",
    "person_level",
    "case_definition",
    "suppression_min_count",
    "episode_settings",
    "interaction_settings",
    "rules_hash",
    "config_hash",
    "run_id",
)


def check_out(out: Path) -> None:
    """Refuse an --out the table cannot be written as, before anything is read."""
    if Path(out).suffix.lower() not in FORMATS:
        raise SerosurvError(f"--out must end in .csv or .parquet, not '{Path(out).name}'.")


def write_prevalence(frame: pl.DataFrame, spec: PrevalenceSpec, out: Path) -> dict[str, Path]:
    """Write the table of `transforms.prevalence.prevalence_table` (read beforehand, so the warehouse is
    closed meanwhile) to `out` (.csv or .parquet) and `out` with .html (summary); return both paths."""
    out = Path(out)
    check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(out.name + ".tmp")
    if out.suffix.lower() == ".csv":
        frame.write_csv(staged)
    else:
        frame.write_parquet(staged)
    summary = out.with_suffix(".html")
    summary.write_text(summary_html(frame, spec), encoding="utf-8")
    return {"table": staged.replace(out), "summary": summary}


def summary_html(frame: pl.DataFrame, spec: PrevalenceSpec) -> str:
    """The "any interacting pair" row of every interval, all strata together, with the parameters. The
    minimum cell size is the one the table was suppressed with (its suppression_min_count)."""
    first: dict[str, Any] = frame.row(0, named=True) if frame.height else {}
    min_cell = first.get("suppression_min_count") or spec.min_cell
    mark = f"<{min_cell}" if min_cell else "suppressed"
    overall = frame.filter((pl.col("pair") == ANY_PAIR) & (pl.col("stratum") == ALL))
    rows = [
        [
            r["interval"],
            mark if r["numerator_suppressed"] else r["numerator"],
            mark if r["denominator_suppressed"] else r["denominator"],
            "suppressed" if r["suppressed"] or r["estimate"] is None else f"{100 * r['estimate']:.2f}%",
            "" if r["ci_lower"] is None else f"{100 * r['ci_lower']:.2f}% – {100 * r['ci_upper']:.2f}%",
        ]
        for r in overall.iter_rows(named=True)
    ]
    bands = frame.get_column("age_band").unique().to_list() if "age_band" in spec.by else []
    return render(
        "prevalence.html.j2",
        spec=spec,
        rows=rows,
        min_cell=min_cell,
        mark=mark,
        age_bands=sorted((b for b in bands if b != ALL), key=_band_order),
        parameters=[[name, first.get(name, "")] for name in PARAMETERS],
    )


def _band_order(band: str) -> tuple[int, str]:
    """Age bands youngest first ('0-17', '18-44', ..., '75+'), then 'unknown'."""
    digits = band.split("-")[0].rstrip("+")
    return (int(digits), band) if digits.isdigit() else (10**6, band)
