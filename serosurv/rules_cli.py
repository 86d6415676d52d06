"""`serosurv rules ...` and `serosurv reference ...`: read, explain and check the rules; load reference data.

A thin layer over `serosurv.rules` and `transforms.ndc_import`; output is plain text for a pharmacist.
`serosurv.cli` wires it in with `add_parsers(commands)` and hands `rules`/`reference` commands to
`dispatch(args)`.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

from serosurv.errors import SerosurvError
from serosurv.rules import RULE_FILES, RuleSet, load_rules

_WIDTH = 100
_RELATED_HELP = (
    "also use the related rules: interactions that are not serotonin syndrome (CYP2D6, QT, opioid/CNS "
    "depression, hypertensive MAOI reactions) and the comparator drugs only they name"
)
_RULES_DIR_HELP = "rule folder to use instead of the built-in rules/ (for trying out an edited copy)"


# ---------------------------------------------------------------------------- parsers


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `rules` and `reference` to the `serosurv` subcommands (parser class is inherited)."""
    rules = commands.add_parser(
        "rules",
        help="list the drugs, explain why two drugs interact, check an edited rule folder",
        description=(
            "The clinical knowledge serosurv uses: which drugs are serotonergic, which combinations "
            "interact, how severe they are, how long to wait between them, and the sources. The rules "
            "live in three CSV files (agents.csv, synonyms.csv, pair_rules.csv) that a pharmacist can "
            "review and edit."
        ),
    )
    actions = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list",
        help="list the drugs the rules know, with class, serotonergic role and washouts",
        description=(
            "List every drug (ingredient) the rules know: its class, how serotonergic it is, how long "
            "to wait after stopping it before an MAOI may start, and, for MAOIs, how long to wait after "
            "stopping it before a serotonergic drug may start."
        ),
    )
    listing.add_argument(
        "--class",
        dest="drug_class",
        metavar="CLASS",
        help="only this drug class, e.g. SSRI, SNRI, MAOI, TCA, triptan, opioid_serotonergic",
    )
    listing.add_argument("--related", action="store_true", help=_RELATED_HELP)
    listing.add_argument("--rules", type=Path, metavar="DIR", help=_RULES_DIR_HELP)

    explain = actions.add_parser(
        "explain",
        help="explain whether and why two drugs interact",
        description=(
            "Explain the interaction between two drugs given by any name a pharmacy sends: generic, "
            "brand, salt, strength or tall-man spelling (e.g. 'Zoloft 50 mg', 'traMADol HCl'). Shows "
            "every matching rule, most severe first, the one that decides, the washout in both "
            "directions, the mechanism, what to do, the sources and what still has to be verified."
        ),
    )
    explain.add_argument("drug_a", metavar="DRUG_A", help="first drug name (quote names with spaces)")
    explain.add_argument("drug_b", metavar="DRUG_B", help="second drug name")
    explain.add_argument("--related", action="store_true", help=_RELATED_HELP)
    explain.add_argument("--rules", type=Path, metavar="DIR", help=_RULES_DIR_HELP)
    explain.add_argument(
        "--jurisdiction",
        choices=("us", "fr", "strictest"),
        default="us",
        help="whose levels decide: us (US labels and FDA, the default), fr (the French ANSM thesaurus where it "
        "rates the pair) or strictest (the higher of the two); both levels are shown either way",
    )

    check = actions.add_parser(
        "check",
        help="check an edited rule folder before it is used",
        description=(
            "Load agents.csv, synonyms.csv and pair_rules.csv exactly as the nightly run does, without "
            "running anything. On success prints the counts and the rules hash that every output "
            "records; on the first problem prints one sentence naming the file, line and field."
        ),
    )
    check.add_argument(
        "path",
        nargs="?",
        type=Path,
        metavar="DIR_OR_FILE",
        help="the rule folder, or one of its three files (default: the built-in rules/)",
    )
    check.add_argument(
        "--jurisdiction",
        choices=("us", "fr", "strictest"),
        default="us",
        help="whose levels to compare (default us)",
    )
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
        description=(
            "Add a name to rules/synonyms.csv so that it maps to its ingredients exactly from the next "
            "night on, e.g. a name the report lists as matched approximately. The edited folder is loaded "
            "before anything is written; the rules hash changes, so the next night recomputes everyone."
        ),
    )
    accept.add_argument(
        "name", metavar="NAME", help="the name as pharmacies send it (quote names with spaces)"
    )
    accept.add_argument(
        "ingredients",
        metavar="INGREDIENT[;INGREDIENT]",
        help="the rule ingredients it stands for (agents.csv)",
    )
    accept.add_argument(
        "--source", required=True, help="where the name comes from, e.g. 'pharmacist review 2026-12'"
    )
    accept.add_argument(
        "--route", choices=("oral", "transdermal", "iv"), help="route, where it changes the risk"
    )
    accept.add_argument(
        "--rules", type=Path, metavar="DIR", help="rule folder to edit (default: the built-in rules/)"
    )

    reference = commands.add_parser(
        "reference",
        help="load reference data (the FDA NDC Directory) into the warehouse",
        description="Load public reference data into the warehouse so claims can be mapped by NDC.",
    )
    sources = reference.add_subparsers(dest="reference_command", metavar="ACTION", required=True)
    ndc = sources.add_parser(
        "import-ndc",
        help="map every package NDC in the FDA NDC Directory to its serotonergic ingredients",
        description=(
            "Read product.txt and package.txt from the FDA NDC Directory (the text version, unzipped "
            "as downloaded) and record, for every package NDC, the serotonergic ingredients it "
            "contains and, where it changes the risk, the route (transdermal selegiline, IV methylene "
            "blue). Replaces the previous FDA import; NDCs entered from other sources are kept."
        ),
    )
    ndc.add_argument("directory", type=Path, metavar="DIR", help="folder holding product.txt and package.txt")
    ndc.add_argument(
        "--warehouse",
        type=Path,
        default=Path("serosurv.duckdb"),
        metavar="FILE",
        help="DuckDB warehouse file (default: ./serosurv.duckdb)",
    )
    ndc.add_argument("--rules", type=Path, metavar="DIR", help=_RULES_DIR_HELP)


def build_standalone_parser() -> argparse.ArgumentParser:
    """A `serosurv`-like parser with only these commands (for tests and before cli.py wires them in)."""
    from serosurv.cli import _Parser  # imported here: cli imports this module

    parser = _Parser(prog="serosurv")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add_parsers(commands)
    return parser


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "rules":
        if args.rules_command == "list":
            print(list_agents(args.drug_class, include_related=args.related, rules_dir=args.rules))
        elif args.rules_command == "explain":
            print(
                explain_pair(
                    args.drug_a,
                    args.drug_b,
                    include_related=args.related,
                    rules_dir=args.rules,
                    jurisdiction=args.jurisdiction,
                )
            )
        elif args.rules_command == "add-synonym":
            from serosurv.rules import add_synonym

            written = add_synonym(
                args.name, args.ingredients.split(";"), args.source, rules_dir=args.rules, route=args.route
            )
            print(
                f"Added '{args.name}' -> {args.ingredients} to {written}; the rules hash changed, so the next "
                "night recomputes every patient."
            )
        elif args.rules_command == "check":
            print(check_rules(args.path, args.jurisdiction, show_all=args.all, strict=args.strict))
    elif args.command == "reference" and args.reference_command == "import-ndc":
        print(import_ndc(args.directory, args.warehouse, rules_dir=args.rules))
    return 0


# ---------------------------------------------------------------------------- rules list


def list_agents(
    drug_class: str | None = None, include_related: bool = False, rules_dir: Path | None = None
) -> str:
    """The agents (of one class) as a table: ingredient, class, role, washouts, routes that matter."""
    ruleset = load_rules(rules_dir, include_related=include_related)
    in_rules = ruleset.serotonergic_ingredients()
    agents = [agent for agent in ruleset.agents.values() if agent.ingredient in in_rules]
    if drug_class is not None:
        classes = sorted({agent.drug_class for agent in ruleset.agents.values()}, key=str.lower)
        wanted = {c.lower(): c for c in classes}.get(drug_class.strip().lower())
        if wanted is None:
            raise SerosurvError(
                f"'{drug_class}' is not a drug class in agents.csv; use one of {', '.join(classes)}."
            )
        agents = [agent for agent in agents if agent.drug_class == wanted]
    header = (
        "ingredient",
        "class",
        "serotonergic role",
        "washout before an MAOI",
        "washout after this MAOI",
        "routes",
    )
    table = [
        (
            agent.ingredient,
            agent.drug_class,
            agent.serotonergic_role,
            _days_text(agent.washout_days_before_maoi),
            _days_text(agent.washout_days_after_maoi),
            ", ".join(agent.routes_that_matter) or "any",
        )
        for agent in sorted(agents, key=lambda a: (a.drug_class.lower(), a.ingredient))
    ]
    lines = _table(header, table)
    lines.append("")
    lines.append(
        f"{len(table)} drugs; rule sets: {', '.join(ruleset.rule_set_names)}; rules hash {ruleset.hash[:12]}."
    )
    lines.extend(
        textwrap.wrap(
            "Washout before an MAOI: days to wait after stopping the drug before an MAOI may start. "
            "Washout after this MAOI: days to wait after stopping the MAOI before a serotonergic drug "
            "may start. Routes: the routes that change the risk (any: the route does not matter).",
            width=_WIDTH,
        )
    )
    if not include_related:
        hidden = sorted(set(ruleset.agents) - in_rules)
        if drug_class is not None:
            hidden = [name for name in hidden if ruleset.agents[name].drug_class == wanted]
        if hidden:
            lines.append(f"Comparators used only by the related rules ({', '.join(hidden)}): add --related.")
    return "\n".join(lines)


def _days_text(days: int | None) -> str:
    if days is None:
        return "-"
    return "1 day (24 h)" if days == 1 else f"{days} days"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(value)) for value in column) for column in zip(header, *rows, strict=True)]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(str(v).ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return [line(header), line(tuple("-" * w for w in widths)), *(line(row) for row in rows)]


# ---------------------------------------------------------------------------- rules explain


def explain_pair(
    drug_a: str,
    drug_b: str,
    include_related: bool = False,
    rules_dir: Path | None = None,
    jurisdiction: str = "us",
) -> str:
    """Why two drugs (any name form) interact: ingredients, every matching rule, winner, washouts, sources."""
    ruleset = load_rules(rules_dir, include_related=include_related, jurisdiction=jurisdiction)
    explanation = ruleset.explain(drug_a, drug_b)
    lines = [
        f"{_quoted(drug_a)} is {_ingredients_text(explanation['a']['ingredients'])}; "
        f"{_quoted(drug_b)} is {_ingredients_text(explanation['b']['ingredients'])}.",
        f"Rule sets: {', '.join(ruleset.rule_set_names)}; rules hash {ruleset.hash[:12]}.",
    ]
    if not explanation["pairs"]:
        lines.append("")
        lines.append(
            "Both names are the same ingredient; a drug never interacts with itself in these rules "
            "(duplicate therapy is not checked)."
        )
        return "\n".join(lines)
    related = (
        None if include_related else load_rules(rules_dir, include_related=True, jurisdiction=jurisdiction)
    )
    for pair in explanation["pairs"]:
        lines.append("")
        lines.extend(_pair_lines(pair, ruleset, related))
    return "\n".join(lines)


def _pair_lines(pair: dict[str, Any], ruleset: RuleSet, related: RuleSet | None) -> list[str]:
    jurisdiction = ruleset.jurisdiction
    a = _drug(pair["ingredient_a"], pair["route_a"])
    b = _drug(pair["ingredient_b"], pair["route_b"])
    winner = pair["winner"]
    if winner is None:
        if pair.get("not_applied"):
            return [f"No rule with a level in this jurisdiction covers {a} + {b}.", *_not_applied_lines(pair)]
        if related is None:
            return [f"No rule covers {a} + {b}, in the serotonergic or the related rules."]
        other = related.resolve(pair["ingredient_a"], pair["ingredient_b"], pair["route_a"], pair["route_b"])
        if other.winner is None:
            return [f"No serotonergic rule covers {a} + {b}, and the related rules have none either."]
        return [
            f"No serotonergic rule covers {a} + {b}; the related rules (--related) have one: "
            f"{other.winner.rule_id} ({other.winner.severity}, not serotonin syndrome)."
        ]
    lines = [
        f"{a} + {b}: {winner['severity'].upper()} (rule {winner['rule_id']}, {winner['rule_set']} rules)",
        f"  Levels: US {winner['severity_us'] or 'none (no US source)'}; French ANSM "
        f"{winner['severity_ansm'] or 'no entry'}; this rule set uses {_JURISDICTION_WORDS[jurisdiction]}.",
    ]
    lines.append("  Washout:")
    lines.append("    " + _washout_sentence(a, b, pair["washout_a_then_b"]))
    lines.append("    " + _washout_sentence(b, a, pair["washout_b_then_a"]))
    if winner["washout_period"]:
        lines.extend(_field("As the sources word it", winner["washout_period"], indent=4))
    for label, key in (
        ("Mechanism", "mechanism"),
        ("What to do", "clinical_guidance"),
        ("Why this severity", "severity_basis"),
        ("ANSM level", "ansm_level"),
        ("Sources", "source"),
        ("Notes", "notes"),
        ("Still to verify", "verification_note"),
    ):
        if winner[key]:
            lines.extend(_field(label, winner[key]))
    lines.append("  Matching rules, most severe first (the first one decides):")
    for match in pair["matches"]:
        mark = "*" if match["rule_id"] == winner["rule_id"] else " "
        lines.append(
            f"   {mark} {match['rule_id']:<4} {match['severity']:<15} {match['rule_set']:<12} "
            f"{match['side_a']}  x  {match['side_b']}"
        )
    lines.extend(_not_applied_lines(pair))
    return lines


_JURISDICTION_WORDS = {
    "us": "US levels (rules.jurisdiction = us)",
    "fr": "ANSM levels where ANSM rates the pair (rules.jurisdiction = fr)",
    "strictest": "the higher of the US and ANSM levels (rules.jurisdiction = strictest)",
}


def _not_applied_lines(pair: dict[str, Any]) -> list[str]:
    """Rules that match but have no level in this jurisdiction (e.g. ANSM-only contraindications)."""
    if not pair.get("not_applied"):
        return []
    lines = [
        "  Not applied here (no level in this jurisdiction; rules.jurisdiction = fr or strictest uses them):"
    ]
    for rule in pair["not_applied"]:
        lines.append(
            f"     {rule['rule_id']:<4} US {rule['severity_us'] or 'none':<15} ANSM {rule['severity_ansm'] or 'none':<15} "
            f"{rule['side_a']}  x  {rule['side_b']}"
        )
    return lines


def _washout_sentence(first: str, then: str, days: int | None) -> str:
    if days is None:
        return f"{first} then {then}: no washout; only overlapping days-supply counts."
    if days == 0:
        return f"after stopping {first}, {then} may start the next day."
    wait = "1 day (24 hours)" if days == 1 else f"{days} days"
    return f"after stopping {first} wait {wait} before starting {then}"


def _field(label: str, text: str, indent: int = 2) -> list[str]:
    return textwrap.wrap(
        f"{label}: {text}",
        width=_WIDTH,
        initial_indent=" " * indent,
        subsequent_indent=" " * (indent + 4),
        break_on_hyphens=False,
    )


def _drug(ingredient: str, route: str | None) -> str:
    return f"{ingredient} ({route})" if route else ingredient


def _ingredients_text(ingredients: list[list[str | None]]) -> str:
    return " + ".join(_drug(name, route) for name, route in ingredients)


def _quoted(name: str) -> str:
    return f"'{name}'"


# ---------------------------------------------------------------------------- rules check


def check_rules(
    path: Path | None = None, jurisdiction: str = "us", show_all: bool = False, strict: bool = False
) -> str:
    """Validate a rule folder (or the folder of one of its files) as the nightly run would load it, then
    report drugs of one mechanism rated differently with the same partner (rules/consistency.csv)."""
    from serosurv.rules import _default_rules_dir
    from serosurv.rules_consistency import CONSISTENCY_FILE, check_consistency

    folder = None
    if path is not None:
        path = Path(path)
        if path.is_file():
            folder = path.parent
        elif path.is_dir():
            folder = path
        else:
            raise SerosurvError(
                f"{path} does not exist; give the rule folder or one of {', '.join(RULE_FILES)}."
            )
    ruleset = load_rules(folder, include_related=True, jurisdiction=jurisdiction)
    by_set = {name: sum(rule.rule_set == name for rule in ruleset.rules) for name in ruleset.rule_set_names}
    to_verify = sum(bool(rule.verification_note) for rule in ruleset.rules) + sum(
        bool(agent.verification_note) for agent in ruleset.agents.values()
    )
    shown = f"The rule folder {folder}" if folder is not None else "The built-in rule folder"
    lines = [
        f"{shown} is valid: {len(ruleset.agents)} agents, {len(ruleset.synonyms)} synonyms, "
        f"{len(ruleset.rules)} rules with a level in this jurisdiction "
        f"({', '.join(f'{n} {name}' for name, n in by_set.items())}; {len(ruleset.unrated)} more have only "
        f"the other jurisdiction's level); {to_verify} rows carry a verification note to read before go-live.",
        f"rules hash: {ruleset.hash}",
    ]
    directory = folder if folder is not None else _default_rules_dir()
    if not (directory / CONSISTENCY_FILE).is_file():
        lines.append(f"No {CONSISTENCY_FILE} in {directory}: drugs of one mechanism were not compared.")
        return "\n".join(lines)
    findings = check_consistency(load_rules(folder, jurisdiction=jurisdiction), directory)
    unexplained = [f for f in findings if not f.explained]
    lines.append("")
    lines.append(
        f"One mechanism, one severity ({CONSISTENCY_FILE}, {_JURISDICTION_WORDS[jurisdiction]}): "
        f"{len(findings)} partner(s) rated differently across a group, {len(unexplained)} without a "
        "documented reason."
    )
    for finding in unexplained:
        lines.extend(
            textwrap.wrap("NOT EXPLAINED: " + finding.sentence(), width=_WIDTH, subsequent_indent="    ")
        )
    if show_all:
        for finding in findings:
            if finding.explained:
                lines.extend(
                    textwrap.wrap(
                        f"explained: {finding.sentence()} - {' / '.join(finding.reasons)}",
                        width=_WIDTH,
                        subsequent_indent="    ",
                    )
                )
    elif len(findings) > len(unexplained):
        lines.append("--all lists the explained ones with their reasons.")
    if strict and unexplained:
        raise SerosurvError(
            f"{len(unexplained)} drug(s) are rated below another drug of the same mechanism without a "
            f"documented reason (first: {unexplained[0].sentence()}); fix the rules or document the reason "
            f"in {CONSISTENCY_FILE}" + "."
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------- reference import-ndc


def import_ndc(directory: Path, warehouse: Path, rules_dir: Path | None = None) -> str:
    """Load the FDA NDC Directory in `directory` into the warehouse's `ref_ndc`; a one-paragraph summary."""
    from serosurv.lock import warehouse_lock
    from serosurv.warehouse import connect
    from transforms.ndc_import import SOURCE, import_ndc_directory

    ruleset = load_rules(rules_dir)  # agents and synonyms do not depend on the rule sets
    with warehouse_lock(warehouse, "reference import-ndc"):
        con = connect(warehouse)
        try:
            counts = import_ndc_directory(con, Path(directory), ruleset)
        finally:
            con.close()
    summary = (
        f"FDA NDC Directory from {directory}: {counts['products_read']:,} products and "
        f"{counts['packages_read']:,} packages read; {counts['packages_mapped']:,} packages contain one "
        f"or more of {counts['ingredients']:,} rule-set ingredients ({counts['rows_written']:,} rows "
        f"written to ref_ndc in {warehouse}, source '{SOURCE}')."
    )
    if counts["packages_without_valid_ndc"]:
        summary += (
            f"\n{counts['packages_without_valid_ndc']:,} packages of those products were skipped because "
            "their NDCPACKAGECODE is not a hyphenated 4-4-2, 5-3-2 or 5-4-1 NDC."
        )
    return summary
