"""`serosurv` on the command line: a thin layer over serosurv.api. Every command's options are declared here,
each shared option once (`--warehouse`, `--rules`, `--related`, `--jurisdiction`, dates); the text printed
comes from serosurv.cli.text.

Exit codes: 0 success, 2 bad input or usage (one sentence on stderr), 1 internal error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from serosurv import __version__
from serosurv.core.config import WAREHOUSE_ENV
from serosurv.core.errors import SerosurvError
from serosurv.core.permissions import owner_only


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors: one sentence, exit 2
        self.print_usage(sys.stderr)
        raise SerosurvError(f"{message}.")


# ---------------------------------------------------------------------------- shared options


def iso_date(text: str) -> date:
    """A YYYY-MM-DD date, or argparse's one-sentence usage error."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (use YYYY-MM-DD)") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number above 0")
    return int(text)


def _warehouse(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse",
        type=Path,
        metavar="FILE",
        help=f"DuckDB warehouse file (default: ${WAREHOUSE_ENV}, else the configuration's [warehouse] path, "
        "else ./serosurv.duckdb: the same for every command)",
    )


def _rules_dir(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument(
        "--rules",
        type=Path,
        metavar="DIR",
        help=help or "rule folder to use instead of the built-in rules/ (for trying out an edited copy)",
    )


def _command_group(
    commands: argparse._SubParsersAction, name: str, *, metavar: str = "ACTION", **texts: str
) -> argparse._SubParsersAction:
    """A command whose actions are sub-commands (`serosurv NAME ACTION ...`); the action lands in NAME_command."""
    group = commands.add_parser(name, **texts)
    return group.add_subparsers(dest=f"{name}_command", metavar=metavar, required=True, parser_class=_Parser)


def _related(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--related",
        action="store_true",
        help="also use the related rules: interactions that are not serotonin syndrome (CYP2D6, QT, opioid/CNS "
        "depression) and the comparator drugs only they name",
    )


def _jurisdiction(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--jurisdiction", choices=("us", "fr", "strictest"), default="us", help=help)


def _config(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--config", type=Path, help=help)


def _format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="default: table")


# ---------------------------------------------------------------------------- the commands


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
    _night_commands(commands)
    _rules_commands(commands)
    _alerts_commands(commands)
    _report_commands(commands)
    _explain_commands(commands)
    _quarantine_commands(commands)
    query = commands.add_parser(
        "query",
        help="run one read-only SQL statement on the warehouse",
        description="Run one SQL statement on the warehouse, read-only (no DuckDB client needed), e.g. "
        'serosurv query "select severity, count(*) from alerts group by all".',
    )
    query.add_argument("sql", metavar="SQL", help="the statement (quote it)")
    _format(query)
    _warehouse(query)
    return parser


def _night_commands(commands: argparse._SubParsersAction) -> None:
    gen = commands.add_parser(
        "generate",
        help="write a synthetic population with planted interactions",
        description="Write claims.parquet, patients.parquet and truth.parquet (the planted "
        "interactions with their expected answers) to --out. The same --seed gives the same files.",
    )
    gen.add_argument("--patients", type=_positive, default=20_000, help="number of patients (default 20000)")
    gen.add_argument("--out", type=Path, required=True, help="folder to write to")
    gen.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    gen.add_argument("--start", type=iso_date, help="first fill date (default 2025-01-01)")
    gen.add_argument("--end", type=iso_date, help="last fill date (default 2025-12-31)")
    gen.add_argument(
        "--workload",
        choices=("general", "serotonergic"),
        default="general",
        help="general: a general health plan, about 1 fill in 6 a serotonergic drug (default); serotonergic: "
        "a behavioural-health plan, about half of the fills serotonergic. The planted cases are the same.",
    )

    run = commands.add_parser(
        "run",
        help="run one night: claims in, alerts and audit report out",
        description="Load the night's claims into the warehouse, check them, map drugs to "
        "ingredients, build exposure episodes, find interacting pairs and write the "
        "audit report and worklist under --out/<date>/. Rows that break the input "
        "contract are quarantined with a reason, never dropped.",
    )
    run.add_argument(
        "--claims",
        type=Path,
        nargs="+",
        required=True,
        metavar="PATH",
        help="claims files: CSV, TSV or Parquet, optionally gzip-compressed (other layouts with --format: "
        "folders of OMOP tables or FHIR files, FHIR NDJSON or Bundles)",
    )
    run.add_argument("--patients", type=Path, help="optional patient table (birth year, sex, coverage)")
    run.add_argument(
        "--format",
        default="canonical",
        help="input layout: canonical (default), omop, scdm, pde, mimic-iv, fhir (FHIR R4/STU3 "
        "MedicationDispense and MedicationRequest: Bulk NDJSON or Bundles), mapping:FILE",
    )
    _config(run, "configuration TOML (default: built-in defaults, see serosurv.toml)")
    _warehouse(run)
    run.add_argument(
        "--as-of", type=iso_date, help="the night's date (default: today); later fill dates are quarantined"
    )
    run.add_argument("--out", type=Path, default=Path("out"), help="folder for reports (default: ./out)")
    run.add_argument(
        "--from",
        dest="backfill_from",
        type=iso_date,
        metavar="DATE",
        help="back-fill: also build the worklist for every night from DATE up to --as-of, in order",
    )

    dem = commands.add_parser(
        "demo",
        help="generate demo data and run a night on it",
        description="Generate a synthetic population and run the whole night on it in a fresh "
        "warehouse of its own (OUT/serosurv.duckdb, never your nights' warehouse), then print "
        "where the report is.",
    )
    dem.add_argument("--out", type=Path, default=Path("demo-out"), help="folder (default: ./demo-out)")
    dem.add_argument("--patients", type=_positive, default=20_000, help="number of patients (default 20000)")
    dem.add_argument("--seed", type=int, default=42, help="random seed (default 42)")

    srv = commands.add_parser(
        "serve",
        help="run the nightly audit on a schedule (registers it with a Prefect server)",
        description="Register the nightly run with the Prefect server at PREFECT_API_URL "
        "(start one with `prefect server start`): the cron schedule, time zone, claims "
        "location and retries of the [schedule] section of --config. Then run each night "
        "as it comes due, until stopped. Each run processes the night its scheduled start "
        "time names, so a late or retried run still processes its own night. See "
        "docs/operations.md.",
    )
    _config(srv, "configuration TOML with a [schedule] section (see serosurv.toml)")
    mode = srv.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would be registered (schedule, next nights, files, retries) and exit",
    )
    mode.add_argument(
        "--once",
        action="store_true",
        help="run one night now as the schedule would, in this process, and exit (no server needed)",
    )
    srv.add_argument(
        "--as-of",
        type=iso_date,
        help="with --once: the night to run (default: the night the "
        "current time names, e.g. yesterday with night = previous_day)",
    )


def _rules_commands(commands: argparse._SubParsersAction) -> None:
    actions = _command_group(
        commands,
        "rules",
        help="list the drugs, explain why two drugs interact, check an edited rule folder",
        description="The clinical knowledge serosurv uses: which drugs are serotonergic, which combinations "
        "interact, how severe they are, how long to wait between them, and the sources. The rules live in CSV "
        "files (agents.csv, synonyms.csv, pair_rules.csv, ...) that a pharmacist can review and edit.",
    )
    listing = actions.add_parser(
        "list",
        help="list the drugs the rules know, with class, serotonergic role and washouts",
        description="List every drug (ingredient) the rules know: its class, how serotonergic it is, how long "
        "to wait after stopping it before an MAOI may start, and, for MAOIs, how long to wait after stopping it "
        "before a serotonergic drug may start.",
    )
    listing.add_argument(
        "--class",
        dest="drug_class",
        metavar="CLASS",
        help="only this drug class, e.g. SSRI, SNRI, MAOI, TCA, triptan, opioid_serotonergic",
    )
    _related(listing)
    _rules_dir(listing)

    explain = actions.add_parser(
        "explain",
        help="explain whether and why two drugs interact",
        description="Explain the interaction between two drugs given by any name a pharmacy sends: generic, "
        "brand, salt, strength or tall-man spelling (e.g. 'Zoloft 50 mg', 'traMADol HCl'). Shows every matching "
        "rule, most severe first, the one that decides, the US and French levels, the washout in both "
        "directions, the mechanism, what to do, the sources and what still has to be verified.",
    )
    explain.add_argument("drug_a", metavar="DRUG_A", help="first drug name (quote names with spaces)")
    explain.add_argument("drug_b", metavar="DRUG_B", help="second drug name")
    _related(explain)
    _rules_dir(explain)
    _jurisdiction(
        explain,
        "whose levels decide: us (US labels and FDA, the default), fr (the French ANSM "
        "thesaurus where it rates the pair) or strictest (the higher of the two); both levels are shown either way",
    )

    check = actions.add_parser(
        "check",
        help="check an edited rule folder before it is used",
        description="Load the rule files exactly as the nightly run does, without running anything. On success "
        "prints the counts, the rules hash every output records and the drugs of one mechanism rated differently "
        "with the same partner (consistency.csv); on the first problem prints one sentence naming the file, "
        "line and field.",
    )
    check.add_argument(
        "path",
        nargs="?",
        type=Path,
        metavar="DIR_OR_FILE",
        help="the rule folder, or one of its files (default: the built-in rules/)",
    )
    _jurisdiction(check, "whose levels to compare (default us)")
    check.add_argument(
        "--all", action="store_true", help="also list the differences a source explains, with the reason"
    )
    check.add_argument(
        "--strict",
        action="store_true",
        help="exit 2 when drugs of one mechanism are rated differently without a documented reason",
    )

    accept = actions.add_parser(
        "add-synonym",
        help="accept a drug name (a misspelling, a foreign or new brand name) into synonyms.csv",
        description="Add a name to synonyms.csv so that it maps to its ingredients exactly from the next night "
        "on, e.g. a name the report lists as matched approximately. The edited folder is loaded before anything "
        "is written; the rules hash changes, so the next night recomputes everyone.",
    )
    accept.add_argument(
        "name", metavar="NAME", help="the name as pharmacies send it (quote names with spaces)"
    )
    accept.add_argument(
        "ingredients", metavar="INGREDIENT[;INGREDIENT]", help="the rule ingredients it stands for"
    )
    accept.add_argument(
        "--source", required=True, help="where the name comes from, e.g. 'pharmacist review 2026-12'"
    )
    accept.add_argument(
        "--route", choices=("oral", "transdermal", "iv"), help="route, where it changes the risk"
    )
    _rules_dir(accept, "rule folder to edit (default: the built-in rules/)")

    sources = _command_group(
        commands,
        "reference",
        help="load your own code crosswalks (NDC, RxNorm) into the warehouse",
        description="NDCs and RxNorm codes of the rule drugs map with no import, through the crosswalks shipped "
        "in rules/rxnorm/ (NLM's RxNorm). Import your own to map codes those do not know (products newer or "
        "older than the shipped release); for the codes it holds, an import decides what they map to. The next "
        "night recomputes every patient.",
    )
    ndc = sources.add_parser(
        "import-ndc",
        help="map NDCs to their serotonergic ingredients: the FDA NDC Directory, or a CSV of NDCs",
        description="PATH is the FDA NDC Directory's folder (product.txt and package.txt, the text version unzipped "
        "as downloaded) or a CSV file whose header row names ndc and either rxcui (any RxNorm code: mapped "
        "through RxNorm) or ingredient (a drug name), optionally route (oral, transdermal, iv) and product_name. "
        "Records, for every NDC, the serotonergic ingredients it contains and, where it changes the risk, the "
        "route (transdermal selegiline, IV methylene blue). Replaces the previous import from the same source "
        "(the FDA directory; a CSV file of the same name); NDCs entered from other sources are kept.",
    )
    ndc.add_argument(
        "path", type=Path, metavar="PATH", help="folder holding product.txt and package.txt, or a CSV file"
    )
    _warehouse(ndc)
    _rules_dir(ndc)
    rxnorm = sources.add_parser(
        "import-rxnorm",
        help="map the RxNorm codes of your RxNorm release or OMOP vocabulary to their serotonergic ingredients",
        description="PATH is the folder of an RxNorm release (RXNCONSO.RRF and RXNREL.RRF, there or in its rrf/ "
        "folder, as NLM's zip unpacks) or of an OMOP vocabulary (CONCEPT.csv with CONCEPT_ANCESTOR.csv or "
        "CONCEPT_RELATIONSHIP.csv, tab-delimited as Athena exports them). Every code of it (ingredients, "
        "clinical and branded drugs, components, dose-form groups, packs) is mapped to the serotonergic "
        "ingredients it holds, into ref_rxnorm; an OMOP vocabulary with CONCEPT_RELATIONSHIP also maps its NDCs "
        "into ref_ndc. Replaces the previous import of the same kind.",
    )
    rxnorm.add_argument(
        "path", type=Path, metavar="PATH", help="folder of the RxNorm release or OMOP vocabulary"
    )
    _warehouse(rxnorm)
    _rules_dir(rxnorm)


def _explain_commands(commands: argparse._SubParsersAction) -> None:
    why = commands.add_parser(
        "explain",
        help="why did (or didn't) an interaction fire for one patient: every claim's fate, every pair's verdict",
        description="Explain one patient's history: every claim with its fate (accepted, quarantined and why, "
        "cancelled by a reversal, dropped as a duplicate, combined same-day, early refill truncated or carried "
        "over), what each drug mapped to (or the nearest rule drug when the name looks misspelt), the episodes "
        "per drug, and for every pair of the patient's drugs the verdict and its reason: the interaction and its "
        "alert (status, priority parts) or why there is none (no rule, too far apart for the washout, overlap "
        "below the rule's minimum, outside the lookback, a side quarantined, a name not recognised...). By default "
        "the latest successful night; --as-of recomputes the night of a date from the claims dated up to it, in "
        "memory. The output names the patient; nothing is written to the warehouse or to any log.",
    )
    why.add_argument("patient", metavar="PATIENT", help="the patient id, as the claims carry it")
    why.add_argument(
        "--pair",
        nargs=2,
        metavar=("DRUG_A", "DRUG_B"),
        help="only this pair (any name a pharmacy sends: generic, brand, salt), even if the patient has no claim of it",
    )
    why.add_argument(
        "--as-of",
        type=iso_date,
        metavar="DATE",
        help="the night of DATE, recomputed from the claims dated up to it (default: the latest successful night)",
    )
    why.add_argument("--format", choices=("text", "json"), default="text", help="default: text")
    why.add_argument(
        "--html", type=Path, metavar="FILE", help="also write a page with the patient's timeline"
    )
    _warehouse(why)

    audit = commands.add_parser(
        "audit",
        help="audit a period: every interaction active in it, with the report's cards, CSV and Parquet",
        description="Write the audit of a period: every interaction active between --from and --to (co-exposure, "
        "or a washout start, on one of its days), whether or not it was ever on a worklist, with the nightly "
        "report's cards and timelines, grouped and sorted by severity and then fragmentation (different "
        "prescribers and pharmacies first), with the same filters; and every interaction as CSV and Parquet "
        "beside it. It reads the warehouse only: no alert changes state.",
    )
    audit.add_argument(
        "--from", dest="date_from", type=iso_date, required=True, metavar="DATE", help="first day"
    )
    audit.add_argument("--to", dest="date_to", type=iso_date, required=True, metavar="DATE", help="last day")
    audit.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="folder for audit_FROM_TO.html, .csv, .parquet",
    )
    _warehouse(audit)


def _quarantine_commands(commands: argparse._SubParsersAction) -> None:
    actions = _command_group(
        commands,
        "quarantine",
        help="the input rows a night did not accept, with the reason (failed nights' too)",
        description="Every input row ends accepted or quarantined with a reason naming the file, row and field. "
        "A night the data-quality gate stopped keeps its quarantine (its claims, episodes and alerts are "
        "rolled back), so you can see which rows failed and why.",
    )
    listing = actions.add_parser(
        "list",
        help="the quarantine of a run: counts per reason with example rows, then the rows",
        description="The rows one run quarantined: the count per reason with example rows, then the rows in "
        "file order (file, row, reason). Without --run, the latest run, failed or not.",
    )
    listing.add_argument("--run", dest="run_id", metavar="RUN_ID", help="the run (default: the latest)")
    listing.add_argument("--reason", metavar="CODE", help="only rows with this reason code, e.g. bad_date")
    listing.add_argument(
        "--limit", type=int, default=100, metavar="N", help="rows to list (default 100; counts are complete)"
    )
    listing.add_argument(
        "--raw", action="store_true", help="also print each row as read (it holds patient identifiers)"
    )
    _format(listing)
    _warehouse(listing)


def _alerts_commands(commands: argparse._SubParsersAction) -> None:
    actions = _command_group(
        commands,
        "alerts",
        help="the worklist: list alerts, show one in full, record what was done",
        description="The pharmacist's worklist. An alert is one patient's interacting pair, followed across nights "
        "with one id: new, ongoing, changed (severity raised, a new prescriber or pharmacy, a washout became an "
        "overlap, the overlap grew) or resolved. Recording an action keeps the alert off the worklist until it "
        "changes or its snooze date comes.",
    )
    listing = actions.add_parser(
        "list",
        help="the worklist: open alerts that need attention, the most dangerous first",
        description="List alerts at their latest night: by default the new, changed and ongoing ones that nobody "
        "has acted on since they last changed (and that are not snoozed), and contraindicated ones that resolved "
        "before anyone reviewed them; by severity, then priority, then status. The priority's parts say why one "
        "alert is above another.",
    )
    listing.add_argument(
        "--status", metavar="LIST", help="comma-separated statuses: new, changed, ongoing, resolved"
    )
    listing.add_argument(
        "--min-severity", metavar="LEVEL", help="contraindicated, major, moderate or minor (and above)"
    )
    listing.add_argument(
        "--all", action="store_true", help="also alerts that were acted on or snoozed, and resolved ones"
    )
    _format(listing)
    _warehouse(listing)

    show = actions.add_parser(
        "show",
        help="one alert in full: fills on both sides, rule and sources, history, actions",
        description="Show one alert: why it was raised and its priority, the NCPDP-style DUR fields, every fill of "
        "both drugs (dates, supply, prescriber, pharmacy), the rule with its guidance and sources, its status "
        "night by night and every action taken.",
    )
    show.add_argument("alert_id", metavar="ALERT_ID", help="the alert id (or its first 6+ characters)")
    _warehouse(show)

    act = actions.add_parser(
        "act",
        help="record what was done about an alert (NCPDP-style codes)",
        description="Record an action on an alert with NCPDP professional service and result of service codes "
        "and, for retrospective DUR letters, the prescriber's response. The alert then stays off the worklist "
        "until it changes, or until --snooze-until. `serosurv alerts codes` lists the codes.",
    )
    act.add_argument("alert_id", metavar="ALERT_ID", help="the alert id (or its first 6+ characters)")
    act.add_argument(
        "--action",
        required=True,
        metavar="CODE",
        help="professional service code, e.g. M0 prescriber consulted, R0 pharmacist consulted "
        "other source, MR medication review, CC coordination of care",
    )
    act.add_argument(
        "--result",
        metavar="CODE",
        help="result of service code, e.g. 1G filled with prescriber approval, 1E filled with "
        "a different drug, 2A prescription not filled, 3E therapy changed",
    )
    act.add_argument(
        "--response",
        metavar="CATEGORY",
        help="RetroDUR prescriber response: agree, disagree, not_my_patient, did_not_prescribe",
    )
    act.add_argument("--note", metavar="TEXT", help="free text kept with the action")
    act.add_argument(
        "--snooze-until",
        type=iso_date,
        metavar="DATE",
        help="keep the alert off the worklist until the night of DATE (or until it changes)",
    )
    act.add_argument("--operator", required=True, metavar="NAME", help="who took the action")
    _warehouse(act)

    export = actions.add_parser(
        "export-actions",
        help="write every recorded action to a CSV file",
        description="Write every action (who, when, codes with their meanings, note) to a CSV file, oldest first.",
    )
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="CSV file to write")
    _warehouse(export)
    actions.add_parser(
        "codes",
        help="list the action, result and response codes with their sources",
        description="List the codes `alerts act` accepts (rules/alert_vocabularies.csv), with their sources.",
    )


def _report_commands(commands: argparse._SubParsersAction) -> None:
    kinds = _command_group(
        commands,
        "report",
        help="make the quality dashboard from the warehouse",
        description="Reports made from the warehouse on demand (the nightly audit report is written by `run`).",
        metavar="REPORT",
    )
    dash = kinds.add_parser(
        "dashboard",
        help="quality dashboard: trends, pairs, classes, fragmentation, prescribers, pharmacies, outcomes",
        description="Write one HTML file with interactive charts for quality teams: the monthly rate of interacting "
        "co-prescribing per 1,000 people exposed to serotonergic drugs by severity, the top drug pairs and classes, "
        "the share across prescribers and pharmacies, the prescribers and pharmacies in the most fragmented "
        "interactions, and what was done about the alerts. It opens offline, contains no patient identifier, and "
        "shows small counts as '<11' (counts under [research] min_cell_count, 11 by default).",
    )
    dash.add_argument(
        "--from", dest="date_from", type=iso_date, required=True, metavar="DATE", help="first day"
    )
    dash.add_argument("--to", dest="date_to", type=iso_date, required=True, metavar="DATE", help="last day")
    _warehouse(dash)
    dash.add_argument(
        "--out",
        type=Path,
        default=Path("dashboard.html"),
        metavar="FILE",
        help="HTML file to write (default: ./dashboard.html); the dashboard is HTML only",
    )
    dash.add_argument(
        "--csv",
        type=Path,
        metavar="DIR",
        help="also write every table as CSV into DIR (comparison.csv, trend.csv, ..., for a P&T committee)",
    )

    prev = commands.add_parser(
        "prevalence",
        help="prevalence of interacting combinations per month, quarter or year (CSV or Parquet)",
        description="Count the people with each interacting combination (co-exposure on at least one day) among a "
        "stated denominator, per interval, with Wilson 95% intervals, optionally by age band and sex. Counts under "
        "[research] min_cell_count (11: counts of 1-10), and any count that would reveal one, are suppressed. The "
        "table carries its parameters; "
        "docs/prevalence.md defines every term.",
    )
    prev.add_argument(
        "--interval", choices=("month", "quarter", "year"), default="month", help="interval (default: month)"
    )
    prev.add_argument(
        "--measure",
        choices=("period", "point"),
        default="period",
        help="period: any co-exposure day in the interval; point: on its first day (default: period)",
    )
    prev.add_argument(
        "--denominator",
        default="users_of_either",
        metavar="WHO",
        help="members (covered people: needs the patient table), users_of_either (users of either drug of the "
        "row), or users_of:INGREDIENT (conditional prevalence; a drug class works too, e.g. users_of:SSRI)",
    )
    prev.add_argument("--by", default="", metavar="age_band,sex", help="strata, comma-separated")
    prev.add_argument(
        "--pairs",
        nargs="+",
        default=["all"],
        metavar="PAIR",
        help="all (every pair seen, its class pairs and any interacting pair) or pairs written "
        "A+B, e.g. tramadol+sertraline or SSRI+MAOI",
    )
    prev.add_argument(
        "--from", dest="date_from", type=iso_date, metavar="DATE", help="first day (default: first episode)"
    )
    prev.add_argument(
        "--to", dest="date_to", type=iso_date, metavar="DATE", help="last day (default: latest night)"
    )
    prev.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="the table: FILE.csv or FILE.parquet"
    )
    _warehouse(prev)


# ---------------------------------------------------------------------------- dispatch


def _run_night(args: argparse.Namespace) -> str:
    from serosurv import api
    from serosurv.cli import text

    if args.command == "generate":
        written = api.generate(
            args.out,
            patients=args.patients,
            seed=args.seed,
            start=args.start,
            end=args.end,
            workload=args.workload,
        )
        return "\n".join(f"{name}: {getattr(written, name)}" for name in ("claims", "patients", "truth"))
    if args.command == "run":
        return text.night(
            api.run(
                args.claims,
                patients=args.patients,
                fmt=args.format,
                config_file=args.config,
                warehouse=args.warehouse,
                as_of=args.as_of,
                out_dir=args.out,
                backfill_from=args.backfill_from,
            )
        )
    if args.command == "demo":
        print(f"Generating {args.patients:,} synthetic patients and running the night ...", file=sys.stderr)
        return text.night(api.demo(args.out, patients=args.patients, seed=args.seed), explore=True)
    outcome = api.serve(args.config, dry_run=args.dry_run, once=args.once, as_of=args.as_of)
    if isinstance(outcome, str):
        return outcome
    return text.night(outcome) if outcome else ""


def _rules(args: argparse.Namespace) -> str:
    from serosurv import api
    from serosurv.cli import text

    command = args.rules_command
    if command == "list":
        return text.agents(
            api.list_agents(args.drug_class, include_related=args.related, rules_dir=args.rules)
        )
    if command == "explain":
        return text.explanation(
            api.explain(
                args.drug_a,
                args.drug_b,
                include_related=args.related,
                rules_dir=args.rules,
                jurisdiction=args.jurisdiction,
            )
        )
    if command == "check":
        found = api.check_rules(args.path, args.jurisdiction)
        if args.strict and found.unexplained:
            first = found.unexplained[0].sentence()
            raise SerosurvError(
                f"{len(found.unexplained)} drug(s) are rated below another drug of the same mechanism without a "
                f"documented reason (first: {first}); fix the rules or document the reason in consistency.csv."
            )
        return text.rules_check(found, show_all=args.all)
    written = api.add_synonym(
        args.name, args.ingredients.split(";"), args.source, rules_dir=args.rules, route=args.route
    )
    return (
        f"Added '{args.name}' -> {args.ingredients} to {written}; the rules hash changed, so the next night "
        "recomputes every patient."
    )


def _reference(args: argparse.Namespace) -> str:
    from serosurv import api
    from serosurv.api.warehouse import resolve
    from serosurv.cli import text

    if args.reference_command == "import-rxnorm":
        counts = api.import_rxnorm(args.path, args.warehouse, rules_dir=args.rules)
        return text.rxnorm_import(counts, resolve(args.warehouse))
    counts = api.import_ndc(args.path, args.warehouse, rules_dir=args.rules)
    return text.ndc_import(counts, args.path, resolve(args.warehouse))


def _alerts(args: argparse.Namespace) -> str:
    from serosurv import api
    from serosurv.cli import text

    command = args.alerts_command
    if command == "codes":
        return text.codes(api.action_codes())
    if command == "list":
        statuses = [s.strip().lower() for s in args.status.split(",") if s.strip()] if args.status else None
        return text.worklist(
            api.list_alerts(args.warehouse, statuses, args.min_severity, args.all), args.format
        )
    if command == "show":
        return text.alert_detail(api.show_alert(args.alert_id, args.warehouse))
    if command == "act":
        return text.recorded_action(
            api.act(
                args.alert_id,
                action=args.action,
                result=args.result,
                response=args.response,
                note=args.note,
                snooze_until=args.snooze_until,
                operator=args.operator,
                warehouse=args.warehouse,
            )
        )
    n = api.export_actions(args.out, args.warehouse)
    return f"Wrote {n} action(s) to {args.out}."


def _reports(args: argparse.Namespace) -> str:
    from serosurv import api
    from serosurv.cli import text

    if args.command == "report":
        board = api.dashboard(
            args.date_from, args.date_to, args.out, warehouse=args.warehouse, tables=args.csv
        )
        return text.dashboard_written(board, args.csv)
    written = api.prevalence(
        args.out,
        warehouse=args.warehouse,
        interval=args.interval,
        measure=args.measure,
        denominator=args.denominator,
        by=[s for s in args.by.split(",") if s.strip()],
        pairs=args.pairs,
        date_from=args.date_from,
        date_to=args.date_to,
    )
    return text.prevalence_written(written)


def _explain(args: argparse.Namespace) -> str:
    from serosurv import api
    from serosurv.cli import text

    if args.command == "audit":
        return text.period_audit(api.audit(args.date_from, args.date_to, args.out, warehouse=args.warehouse))
    found = api.explain_patient(
        args.patient, pair=args.pair, as_of=args.as_of, warehouse=args.warehouse, html=args.html
    )
    if args.format == "json":
        return found.to_json()
    return text.patient_explanation(found, page=args.html)


def _quarantine(args: argparse.Namespace) -> str:
    from serosurv import api
    from serosurv.cli import text

    found = api.list_quarantine(
        args.run_id, reason=args.reason, limit=args.limit, raw=args.raw, warehouse=args.warehouse
    )
    return text.quarantine_list(found, args.format)


def _query(args: argparse.Namespace) -> str:
    from serosurv import api
    from serosurv.cli import text

    return text.query_result(api.query(args.sql, args.warehouse), args.format)


_COMMANDS: dict[str, Callable[[argparse.Namespace], str]] = {
    "generate": _run_night,
    "run": _run_night,
    "demo": _run_night,
    "serve": _run_night,
    "rules": _rules,
    "reference": _reference,
    "alerts": _alerts,
    "report": _reports,
    "prevalence": _reports,
    "query": _query,
    "quarantine": _quarantine,
    "explain": _explain,
    "audit": _explain,
}


@owner_only()  # every file and folder a command creates is readable by its owner only
def dispatch(args: argparse.Namespace) -> int:
    output = _COMMANDS[args.command](args)
    if output:
        print(output)
    return 0


def _show_progress() -> None:
    """Progress lines from serosurv's own logger only; libraries stay quiet unless --verbose."""
    logger = logging.getLogger("serosurv")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("serosurv: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


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
    except BrokenPipeError:  # `serosurv alerts list | head`: the reader left; nothing to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(
            devnull, sys.stdout.fileno()
        )  # Python flushes stdout at exit: into /dev/null, not a dead pipe
        return 0
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
