"""Prevalence tables for researchers: the tidy table as CSV or Parquet (by the file's extension) and a
short HTML summary beside it. The numbers come from transforms/prevalence.py."""

from __future__ import annotations

from html import escape
from pathlib import Path

import duckdb
import polars as pl

from reports.html import BASE_CSS, table
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import RuleSet
from transforms.prevalence import ANY_PAIR, PrevalenceSpec, prevalence_table

FORMATS = (".csv", ".parquet")


def write_prevalence(
    con: duckdb.DuckDBPyConnection, spec: PrevalenceSpec, out: Path, ruleset: RuleSet
) -> dict[str, Path]:
    """Write the table to `out` (.csv or .parquet) and `out` with .html (summary); return both paths."""
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise SerosurvError(f"--out must end in .csv or .parquet, not '{out.name}'.")
    frame = prevalence_table(con, spec, ruleset)
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
    """The "any interacting pair" row of every interval, all strata together, with the parameters."""
    first = frame.row(0, named=True) if frame.height else {}
    overall = frame.filter((pl.col("pair") == ANY_PAIR) & (pl.col("stratum") == "all"))
    body = [
        [
            r["interval"],
            "<11" if r["numerator_suppressed"] else r["numerator"],
            "<11" if r["denominator_suppressed"] else r["denominator"],
            "suppressed" if r["suppressed"] or r["estimate"] is None else f"{100 * r['estimate']:.2f}%",
            "" if r["ci_lower"] is None else f"{100 * r['ci_lower']:.2f}% – {100 * r['ci_upper']:.2f}%",
        ]
        for r in overall.iter_rows(named=True)
    ]
    parameters = [
        [name, first.get(name, "")]
        for name in ("measure", "interval_type", "denominator_type", "contribution_rule", "person_level",
                     "case_definition", "suppression_min_count", "episode_settings", "interaction_settings",
                     "rules_hash", "config_hash", "run_id")
    ]  # fmt: skip
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>serosurv prevalence</title><style>{BASE_CSS}</style></head><body>
<h1>Prevalence of any interacting combination — {escape(spec.measure)}, by {escape(spec.interval)}</h1>
<p class="muted">Person level; Wilson 95% intervals; counts of 1–10 and any count that would reveal one are
suppressed. The full table (every pair, class pair and stratum) is in the CSV/Parquet file beside this one.</p>
{table(["interval", "people with the combination", "denominator", "estimate", "Wilson 95% CI"], body, "No interval.")}
<h2>Parameters</h2>{table(["parameter", "value"], parameters)}
</body></html>"""
