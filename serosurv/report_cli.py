"""`serosurv report dashboard ...` and `serosurv prevalence ...`: the quality dashboard and prevalence
tables, from the warehouse.

A thin layer over `reports.dashboard` and `reports.prevalence`; `serosurv.cli` wires it in with
`add_parsers(commands)` and hands `report`/`prevalence` commands to `dispatch(args)`. The warehouse is
opened read-only, so reports can be made while a night runs.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import duckdb

from serosurv.cli_args import WAREHOUSE_HELP, iso_date
from serosurv.errors import SerosurvError
from serosurv.rules import load_rules
from serosurv.warehouse import open_existing


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `report` and `prevalence` to the `serosurv` subcommands (parser class is inherited)."""
    report = commands.add_parser(
        "report",
        help="make the quality dashboard from the warehouse",
        description="Reports made from the warehouse on demand (the nightly audit report is written by `run`).",
    )
    kinds = report.add_subparsers(dest="report_command", metavar="REPORT", required=True)
    dash = kinds.add_parser(
        "dashboard",
        help="quality dashboard: trends, pairs, classes, fragmentation, prescribers, pharmacies, outcomes",
        description=(
            "Write one HTML file with interactive charts for quality teams: the monthly rate of interacting "
            "co-prescribing per 1,000 people exposed to serotonergic drugs by severity, the top drug pairs "
            "and classes, the share across prescribers and pharmacies, the prescribers and pharmacies in "
            "the most fragmented interactions, and what was done about the alerts. It opens offline, "
            "contains no patient identifier, and shows counts of 1-10 as '<11'."
        ),
    )
    dash.add_argument(
        "--from", dest="date_from", type=iso_date, required=True, metavar="DATE", help="first day"
    )
    dash.add_argument("--to", dest="date_to", type=iso_date, required=True, metavar="DATE", help="last day")
    dash.add_argument(
        "--warehouse", type=Path, default=Path("serosurv.duckdb"), metavar="FILE", help=WAREHOUSE_HELP
    )
    dash.add_argument("--out", type=Path, default=Path("dashboard.html"), metavar="FILE",
                      help="HTML file to write (default: ./dashboard.html)")  # fmt: skip

    prev = commands.add_parser(
        "prevalence",
        help="prevalence of interacting combinations per month, quarter or year (CSV or Parquet)",
        description=(
            "Count the people with each interacting combination (co-exposure on at least one day) among "
            "a stated denominator, per interval, with Wilson 95%% intervals, optionally by age band and "
            "sex. Counts of 1-10, and any count that would reveal one, are suppressed. The table carries "
            "its parameters; docs/prevalence.md defines every term."
        ),
    )
    prev.add_argument("--interval", choices=("month", "quarter", "year"), default="month",
                      help="interval (default: month)")  # fmt: skip
    prev.add_argument("--measure", choices=("period", "point"), default="period",
                      help="period: any co-exposure day in the interval; point: on its first day (default: period)")  # fmt: skip
    prev.add_argument(
        "--denominator", default="users_of_either", metavar="WHO",
        help="members (covered people: needs the patient table), users_of_either (users of either drug of "
        "the row), or users_of:INGREDIENT (conditional prevalence; a drug class works too, e.g. users_of:SSRI)",
    )  # fmt: skip
    prev.add_argument("--by", default="", metavar="age_band,sex", help="strata, comma-separated")
    prev.add_argument("--pairs", nargs="+", default=["all"], metavar="PAIR",
                      help="all (every pair seen, its class pairs and any interacting pair) or pairs written "
                      "A+B, e.g. tramadol+sertraline or SSRI+MAOI")  # fmt: skip
    prev.add_argument(
        "--from", dest="date_from", type=iso_date, metavar="DATE", help="first day (default: first episode)"
    )
    prev.add_argument(
        "--to", dest="date_to", type=iso_date, metavar="DATE", help="last day (default: latest night)"
    )
    prev.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="the table: FILE.csv or FILE.parquet"
    )
    prev.add_argument(
        "--warehouse", type=Path, default=Path("serosurv.duckdb"), metavar="FILE", help=WAREHOUSE_HELP
    )


def build_standalone_parser() -> argparse.ArgumentParser:
    """A `serosurv`-like parser with only these commands (for tests and before cli.py wires them in)."""
    from serosurv.cli import _Parser  # imported here: cli imports this module

    parser = _Parser(prog="serosurv")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add_parsers(commands)
    return parser


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "report" and args.report_command == "dashboard":
        path = dashboard(args.warehouse, args.date_from, args.date_to, args.out)
        print(f"Dashboard: {path}")
    elif args.command == "prevalence":
        written = prevalence(
            args.warehouse, args.out, interval=args.interval, measure=args.measure,
            denominator=args.denominator, by=[s for s in args.by.split(",") if s.strip()],
            pairs=args.pairs, date_from=args.date_from, date_to=args.date_to,
        )  # fmt: skip
        print(f"Prevalence: {written['table']}")
        print(f"Summary:    {written['summary']}")
    return 0


def _open(warehouse: Path) -> duckdb.DuckDBPyConnection:
    return open_existing(warehouse, read_only=True)


def dashboard(
    warehouse: Path | str, date_from: date, date_to: date, out: Path | str = "dashboard.html"
) -> Path:
    """Write the quality dashboard for [date_from, date_to]; returns its path."""
    from reports.dashboard import write_dashboard

    if date_to < date_from:
        raise SerosurvError("--to must not be before --from.")
    con = _open(Path(warehouse))
    try:
        return write_dashboard(con, date_from, date_to, Path(out), _ruleset(con)).resolve()
    finally:
        con.close()


def prevalence(
    warehouse: Path | str,
    out: Path | str,
    *,
    interval: str = "month",
    measure: str = "period",
    denominator: str = "users_of_either",
    by: list[str] | tuple[str, ...] = (),
    pairs: list[str] | tuple[str, ...] = ("all",),
    date_from: date | None = None,
    date_to: date | None = None,
) -> dict[str, Path]:
    """Write the prevalence table (CSV or Parquet by extension) and its HTML summary; returns both paths."""
    from reports.prevalence import write_prevalence
    from transforms.prevalence import PrevalenceSpec

    spec = PrevalenceSpec(
        interval=interval, measure=measure, denominator=denominator, by=tuple(s.strip() for s in by),
        pairs=tuple(pairs) or ("all",), start=date_from, end=date_to,
    )  # fmt: skip
    spec.check()
    con = _open(Path(warehouse))
    try:
        written = write_prevalence(con, spec, Path(out), _ruleset(con))
    finally:
        con.close()
    return {name: path.resolve() for name, path in written.items()}


def _ruleset(con: duckdb.DuckDBPyConnection):
    """The rules the nights used (with the related set when the last night had it on)."""
    import json

    found = con.execute(
        "SELECT parameters FROM runs WHERE status = 'success' ORDER BY as_of DESC, finished_at DESC LIMIT 1"
    ).fetchall()
    settings = json.loads(found[0][0] or "{}").get("rules", {}) if found else {}
    directory = settings.get("directory") or None
    return load_rules(
        Path(directory) if directory else None,
        include_related=bool(settings.get("include_related")),
        jurisdiction=settings.get("jurisdiction") or "us",
    )
