"""`serosurv` on the command line: a thin layer over serosurv.api.

Exit codes: 0 success, 2 bad input or usage (one sentence on stderr), 1 internal error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from serosurv import __version__, alerts_cli, report_cli, rules_cli
from serosurv.cli_args import iso_date
from serosurv.errors import SerosurvError
from serosurv.permissions import owner_only


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors: one sentence, exit 2
        self.print_usage(sys.stderr)
        raise SerosurvError(f"{message}.")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number above 0")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="serosurv",
        description=(
            "Nightly audit of serotonergic co-prescribing from prescription claims: finds patients exposed "
            "at the same time (or inside a washout window) to drugs whose combination risks serotonin "
            "syndrome, above all when different prescribers wrote them."
        ),
    )
    parser.add_argument("--version", action="version", version=f"serosurv {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show Prefect's own log lines too")
    parser.add_argument("--debug", action="store_true", help="show the traceback of internal errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    gen = commands.add_parser("generate", help="write a synthetic population with planted interactions",
                              description="Write claims.parquet, patients.parquet and truth.parquet (the planted "
                              "interactions with their expected answers) to --out. The same --seed gives the same files.")  # fmt: skip
    gen.add_argument("--patients", type=_positive, default=20_000, help="number of patients (default 20000)")
    gen.add_argument("--out", type=Path, required=True, help="folder to write to")
    gen.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    gen.add_argument("--start", type=iso_date, help="first fill date (default 2025-01-01)")
    gen.add_argument("--end", type=iso_date, help="last fill date (default 2025-12-31)")

    run = commands.add_parser("run", help="run one night: claims in, alerts and audit report out",
                              description="Load the night's claims into the warehouse, check them, map drugs to "
                              "ingredients, build exposure episodes, find interacting pairs and write the "
                              "audit report and worklist under --out/<date>/. Rows that break the input "
                              "contract are quarantined with a reason, never dropped.")  # fmt: skip
    run.add_argument("--claims", type=Path, nargs="+", required=True, metavar="PATH",
                     help="claims files: CSV, TSV or Parquet, optionally gzip-compressed")  # fmt: skip
    run.add_argument("--patients", type=Path, help="optional patient table (birth year, sex, coverage)")
    run.add_argument("--format", default="canonical", help="input layout (default: canonical)")
    run.add_argument(
        "--config", type=Path, help="configuration TOML (default: built-in defaults, see serosurv.toml)"
    )
    run.add_argument("--warehouse", type=Path, help="DuckDB warehouse file (default: OUT/serosurv.duckdb)")
    run.add_argument(
        "--as-of", type=iso_date, help="the night's date (default: today); later fill dates are quarantined"
    )
    run.add_argument("--out", type=Path, default=Path("out"), help="folder for reports (default: ./out)")
    run.add_argument("--from", dest="backfill_from", type=iso_date, metavar="DATE",
                     help="back-fill: also build the worklist for every night from DATE up to --as-of, in order")  # fmt: skip

    dem = commands.add_parser("demo", help="generate demo data and run a night on it",
                              description="Generate a synthetic population and run the whole night on it, "
                              "then print where the report is.")  # fmt: skip
    dem.add_argument("--out", type=Path, default=Path("demo-out"), help="folder (default: ./demo-out)")
    dem.add_argument("--patients", type=_positive, default=20_000, help="number of patients (default 20000)")
    dem.add_argument("--seed", type=int, default=42, help="random seed (default 42)")

    srv = commands.add_parser("serve", help="run the nightly audit on a schedule (registers it with a Prefect server)",
                              description="Register the nightly run with the Prefect server at PREFECT_API_URL "
                              "(start one with `prefect server start`): the cron schedule, time zone, claims "
                              "location and retries of the [schedule] section of --config. Then run each night "
                              "as it comes due, until stopped. Each run processes the night its scheduled start "
                              "time names, so a late or retried run still processes its own night. See "
                              "docs/operations.md.")  # fmt: skip
    srv.add_argument(
        "--config", type=Path, help="configuration TOML with a [schedule] section (see serosurv.toml)"
    )
    mode = srv.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true",
                      help="show what would be registered (schedule, next nights, files, retries) and exit")  # fmt: skip
    mode.add_argument("--once", action="store_true",
                      help="run one night now as the schedule would, in this process, and exit (no server needed)")  # fmt: skip
    srv.add_argument("--as-of", type=iso_date, help="with --once: the night to run (default: the night the "
                     "current time names, e.g. yesterday with night = previous_day)")  # fmt: skip
    rules_cli.add_parsers(commands)
    alerts_cli.add_parsers(commands)
    report_cli.add_parsers(commands)
    return parser


def _print_night(result: dict) -> None:
    counts = result["counts"]
    print(
        f"Night {result['as_of']} (run {result['run_id']}): {counts.get('rows_read', 0):,} rows read, "
        f"{counts.get('rows_accepted', 0):,} accepted, {counts.get('rows_quarantined', 0):,} quarantined; "
        f"{counts.get('alerts_new', 0):,} new, {counts.get('alerts_changed', 0):,} changed, "
        f"{counts.get('alerts_ongoing', 0):,} ongoing, {counts.get('alerts_resolved', 0):,} resolved alerts."
    )
    print(f"Report:   {result['reports']['report']}")
    print(f"Worklist: {result['reports']['alerts']} (and {result['reports']['alerts_parquet'].name})")
    if result.get("dashboard"):
        print(f"Quality dashboard: {result['dashboard']}")


def _show_progress() -> None:
    """Progress lines from serosurv's own logger only; libraries stay quiet unless --verbose."""
    logger = logging.getLogger("serosurv")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("serosurv: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


@owner_only()  # every file and folder a command creates is readable by its owner only
def dispatch(args: argparse.Namespace) -> int:
    from serosurv import api

    if args.command in ("rules", "reference"):
        return rules_cli.dispatch(args)
    if args.command == "alerts":
        return alerts_cli.dispatch(args)
    if args.command in ("report", "prevalence"):
        return report_cli.dispatch(args)
    if args.command == "generate":
        written = api.generate(
            args.out, patients=args.patients, seed=args.seed, start=args.start, end=args.end
        )
        for name in ("claims", "patients", "truth"):
            print(f"{name}: {written[name]}")
    elif args.command == "run":
        result = api.run(args.claims, patients=args.patients, fmt=args.format, config_file=args.config,
                         warehouse=args.warehouse, as_of=args.as_of, out_dir=args.out,
                         backfill_from=args.backfill_from)  # fmt: skip
        _print_night(result)
    elif args.command == "demo":
        print(f"Generating {args.patients:,} synthetic patients and running the night ...", file=sys.stderr)
        _print_night(api.demo(args.out, patients=args.patients, seed=args.seed))
    elif args.command == "serve":
        outcome = api.serve(args.config, dry_run=args.dry_run, once=args.once, as_of=args.as_of)
        if isinstance(outcome, str):
            print(outcome)
        elif outcome:
            _print_night(outcome)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    debug = False
    try:
        args = parser.parse_args(argv)
        debug = args.debug
        if not args.command:
            parser.print_help()
            return 2
        _show_progress()
        import os

        if args.verbose:
            os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
        elif args.command != "serve":  # serve's console is the scheduler's log
            # The command reports its own errors (one sentence, or the traceback with --debug); Prefect's
            # console would repeat a failed run with its traceback. Its API handler keeps the run's logs.
            # Read when Prefect is first imported, which the commands do lazily (after this line).
            os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
        return dispatch(args)
    except SerosurvError as exc:
        print(f"serosurv: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("serosurv: interrupted; the warehouse is left as it was before the run.", file=sys.stderr)
        return 130
    except Exception as exc:  # internal errors: say so, keep identifiers out, traceback only on request
        if debug:
            raise
        if "No space left on device" in str(exc):
            print(
                "serosurv: error: out of disk space (DuckDB spills beyond its memory limit to the warehouse's "
                "temp_directory); the warehouse is left as it was: free space or set [warehouse] temp_directory "
                "to a larger disk.",
                file=sys.stderr,
            )
            return 1
        print(
            f"serosurv: internal error: {type(exc).__name__}; rerun with --debug for details.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
