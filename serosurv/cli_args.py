"""Argument types and help shared by the command modules (cli, alerts_cli, report_cli, rules_cli)."""

from __future__ import annotations

import argparse
from datetime import date

WAREHOUSE_HELP = "DuckDB warehouse file (default: ./serosurv.duckdb)"


def iso_date(text: str) -> date:
    """A YYYY-MM-DD date, or argparse's one-sentence usage error."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (use YYYY-MM-DD)") from None
