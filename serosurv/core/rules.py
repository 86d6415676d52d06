"""The interaction rule set: load `rules/`, validate it, and resolve ingredient pairs to a winning rule.

The CSV files are the clinical knowledge; this module only reads them. Semantics (see rules/README.md):
sides expand to ingredients, rules apply to pairs of different ingredients, the most severe rule wins,
ties go to the more specific rule (fewer expanded pairs), then to the lower rule id. Each rule carries the
US level (`severity`, from US labels and FDA communications) and, where the French ANSM thesaurus has an
entry, the ANSM level (`severity_ansm`); the jurisdiction chosen at load time decides which one a rule
has (`us` by default; `fr`; `strictest`). A rule with no level in the chosen jurisdiction is not used.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from serosurv.core.errors import SerosurvError
from serosurv.core.severity import SEVERITY_RANK

# serotonergic: serotonin toxicity; maoi: the other contraindications US labels state with MAO inhibitors
# (hypertensive reactions); related: CYP2D6, QT, CNS depression and the like. The first two are on by default.
RULE_SETS = ("serotonergic", "maoi", "related")
DEFAULT_RULE_SETS = ("serotonergic", "maoi")
# Whose severity a rule takes: the US level, the French ANSM level where ANSM has one, or the higher of both.
JURISDICTIONS = ("us", "fr", "strictest")
MECHANISM_VALUES = ("yes", "partly", "no")
ROUTES = ("oral", "transdermal", "iv")
PER_DRUG = "per_drug"
NO_AGENT = "none"  # synonyms.csv: a name that must not match a shorter name inside it
# Order matters: the hash must not depend on directory listing order.
RULE_FILES = ("agents.csv", "synonyms.csv", "pair_rules.csv")

AGENT_COLUMNS = (
    "ingredient",
    "drug_class",
    "mechanism",
    "rxcui",
    "atc_codes",
    "brand_names",
    "serotonergic_role",
    "counts_toward_burden",
    "rule_groups",
    "washout_days_before_maoi",
    "washout_days_after_maoi",
    "routes_that_matter",
    "default_route",
    "notes",
    "source",
    "rxcui_source",
    "atc_source",
    "verification_note",
)
SYNONYM_COLUMNS = ("name", "ingredients", "other_ingredients", "route", "source")
RULE_COLUMNS = (
    "rule_id",
    "side_a",
    "side_b",
    "severity",
    "severity_ansm",
    "mechanism",
    "clinical_guidance",
    "source",
    "washout_period",
    "washout_a_before_b",
    "washout_b_before_a",
    "min_overlap_days",
    "severity_basis",
    "ansm_level",
    "serotonin_syndrome_mechanism",
    "rule_set",
    "notes",
    "verification_note",
)

Washout = int | str | None  # days, "per_drug", or None (no washout)


@dataclass(frozen=True)
class Agent:
    ingredient: str
    drug_class: str
    mechanism: str
    rxcui: str | None
    atc_codes: tuple[str, ...]
    brand_names: str
    serotonergic_role: str
    counts_toward_burden: bool  # a serotonergic agent that counts in serotonergic_burden (3+ at once)
    rule_groups: tuple[str, ...]
    washout_days_before_maoi: int | None
    washout_days_after_maoi: int | None
    routes_that_matter: tuple[str, ...]
    default_route: str | None  # the route taken when a fill does not say (methylene blue: iv)
    notes: str
    source: str
    rxcui_source: str
    atc_source: str
    verification_note: str

    def per_drug_washout(self) -> int | None:
        """Days after stopping this drug before the other may start, when a rule says `per_drug`."""
        if self.washout_days_before_maoi is not None:
            return self.washout_days_before_maoi
        return self.washout_days_after_maoi


@dataclass(frozen=True)
class Member:
    ingredient: str
    route: str | None = None


@dataclass(frozen=True)
class Synonym:
    name: str
    ingredients: tuple[str, ...]
    other_ingredients: tuple[str, ...]
    route: str | None
    source: str


@dataclass(frozen=True)
class Rule:
    rule_id: str
    side_a: str
    side_b: str
    members_a: tuple[Member, ...]
    members_b: tuple[Member, ...]
    severity: str  # the level in the jurisdiction the rule set was loaded for
    severity_us: str  # empty: no US source rates this pair (an ANSM-only rule)
    severity_ansm: str  # empty: ANSM has no entry
    mechanism: str
    clinical_guidance: str
    source: str
    washout_period: str
    washout_a_before_b: Washout
    washout_b_before_a: Washout
    min_overlap_days: int
    severity_basis: str
    ansm_level: str
    serotonin_syndrome_mechanism: str
    rule_set: str
    notes: str
    verification_note: str
    pair_count: int  # distinct pairs of different ingredients: the specificity tie-break

    @property
    def severity_rank(self) -> int:
        return SEVERITY_RANK[self.severity]

    def rated_anywhere(self) -> Rule:
        """The rule with whichever level it has (US first), for showing rules another jurisdiction applies."""
        return dataclasses.replace(self, severity=self.severity_us or self.severity_ansm)

    def describe(self) -> dict[str, Any]:
        """The fields a pharmacist needs to judge the rule, for `explain`."""
        keys = (
            "rule_id",
            "severity",
            "severity_us",
            "severity_ansm",
            "rule_set",
            "side_a",
            "side_b",
            "mechanism",
            "clinical_guidance",
            "severity_basis",
            "ansm_level",
            "serotonin_syndrome_mechanism",
            "washout_period",
            "source",
            "notes",
            "verification_note",
        )
        return {key: getattr(self, key) for key in keys}


@dataclass(frozen=True)
class _Match:
    """One rule matching one alphabetically ordered pair, with washouts in that order."""

    rule: Rule
    route_a: str | None
    route_b: str | None
    washout_a_then_b: int | None
    washout_b_then_a: int | None


@dataclass(frozen=True)
class Resolution:
    ingredient_a: str
    ingredient_b: str
    route_a: str | None
    route_b: str | None
    winner: Rule | None
    matches: tuple[Rule, ...]  # most severe first, in winner order
    washout_a_then_b: int | None
    washout_b_then_a: int | None


def _rule_order(rule: Rule) -> tuple[int, int, tuple[str, int, str]]:
    return (-rule.severity_rank, rule.pair_count, _rule_id_key(rule.rule_id))


def _rule_id_key(rule_id: str) -> tuple[str, int, str]:
    # Natural order so that R9 < R10 if someone drops the zero padding.
    match = re.fullmatch(r"([A-Za-z_]*)(\d+)(.*)", rule_id)
    if match is None:
        return (rule_id, -1, "")
    return (match.group(1), int(match.group(2)), match.group(3))


class RuleSet:
    """Agents, synonyms and the active pair rules, with pair resolution."""

    def __init__(
        self,
        hash: str,
        agents: dict[str, Agent],
        synonyms: list[Synonym],
        rules: list[Rule],
        rule_set_names: tuple[str, ...],
        jurisdiction: str = "us",
        unrated: list[Rule] | None = None,
        directory: Path | None = None,
    ) -> None:
        self.hash = hash
        self.agents = agents
        self.synonyms = synonyms
        self.rules = rules
        self.rule_set_names = rule_set_names
        self.jurisdiction = jurisdiction
        # rules of the active sets with no level in this jurisdiction (e.g. ANSM-only rules under `us`)
        self.unrated = unrated or []
        # the folder the rules were read from (its rxnorm/ crosswalks, serosurv.core.crosswalks)
        self.directory = directory

    def default_routes(self) -> dict[str, str]:
        """Ingredients whose fills without a known route are taken as one route (methylene blue: iv)."""
        return {name: a.default_route for name, a in self.agents.items() if a.default_route}

    def burden_ingredients(self) -> frozenset[str]:
        """The ingredients that count toward serotonergic burden: agents.csv `counts_toward_burden`, among
        the ingredients the active rules name."""
        named = self.serotonergic_ingredients()
        return frozenset(
            name for name, agent in self.agents.items() if agent.counts_toward_burden and name in named
        )

    def serotonergic_ingredients(self) -> frozenset[str]:
        """Ingredients named (directly or via a group) by any rule of the active sets."""
        return frozenset(m.ingredient for rule in self.rules for m in rule.members_a + rule.members_b)

    @cached_property
    def _matches(self) -> dict[tuple[str, str], list[_Match]]:
        by_pair: dict[tuple[str, str], list[_Match]] = {}
        for rule in self.rules:
            for pair, match in _expand_rule(rule, self.agents):
                by_pair.setdefault(pair, []).append(match)
        return by_pair

    def resolve(self, a: str, b: str, route_a: str | None = None, route_b: str | None = None) -> Resolution:
        """All active rules matching ingredients `a` and `b` (given routes), and the winner."""
        for ingredient in (a, b):
            if ingredient not in self.agents:
                raise SerosurvError(
                    f"'{ingredient}' is not an ingredient in the rule set; use an ingredient "
                    "name from rules/agents.csv."
                )
        swapped = a > b
        first, second = (b, a) if swapped else (a, b)
        first_route, second_route = (route_b, route_a) if swapped else (route_a, route_b)
        first_route = first_route or self._default_route(first)
        second_route = second_route or self._default_route(second)
        applicable = self._rated(
            _applicable(self._matches.get((first, second), []), first_route, second_route)
        )
        winner, washout_fs, washout_sf = _winner(applicable)
        matches = tuple(sorted({m.rule for m in applicable}, key=_rule_order))
        if swapped:
            washout_fs, washout_sf = washout_sf, washout_fs
            first_route, second_route = second_route, first_route
        return Resolution(a, b, first_route, second_route, winner, matches, washout_fs, washout_sf)

    def with_rules(self, rules: list[Rule]) -> RuleSet:
        """The same agents and synonyms with other rules (e.g. the ones without a level here)."""
        return RuleSet(
            self.hash,
            self.agents,
            self.synonyms,
            rules,
            self.rule_set_names,
            self.jurisdiction,
            directory=self.directory,
        )

    def _default_route(self, ingredient: str) -> str | None:
        return self.agents[ingredient].default_route if ingredient in self.agents else None

    def _rated(self, matches: list[_Match]) -> list[_Match]:
        """Under `fr`, a pair that ANSM rates is decided by the ANSM-rated rules only."""
        if self.jurisdiction == "fr" and any(m.rule.severity_ansm for m in matches):
            return [m for m in matches if m.rule.severity_ansm]
        return matches

    @cached_property
    def _pair_table(self) -> pl.DataFrame:
        rows = []
        for (a, b), matches in sorted(self._matches.items()):
            variants = _route_variants(matches)
            routed_a = {ra for ra, _ in variants if ra}
            routed_b = {rb for _, rb in variants if rb}
            default_a, default_b = self._default_route(a), self._default_route(b)
            for route_a, route_b in variants:
                # Fills without a route take the ingredient's default one: its row stands for them.
                if (route_a is None and default_a in routed_a) or (route_b is None and default_b in routed_b):
                    continue
                applicable = _applicable(matches, route_a or default_a, route_b or default_b)
                winner, washout_ab, washout_ba = _winner(self._rated(applicable))
                if winner is None:
                    continue
                rows.append(
                    {
                        "ingredient_a": a,
                        "ingredient_b": b,
                        "rule_id": winner.rule_id,
                        "severity": winner.severity,
                        "severity_rank": winner.severity_rank,
                        "route_a": route_a,
                        "route_b": route_b,
                        "washout_a_then_b": washout_ab,
                        "washout_b_then_a": washout_ba,
                        "min_overlap_days": winner.min_overlap_days,
                        "rule_set": winner.rule_set,
                    }
                )
        return pl.DataFrame(rows, schema=PAIR_TABLE_SCHEMA, orient="row")

    def pair_table(self) -> pl.DataFrame:
        """One row per alphabetically ordered ingredient pair (and route qualifier) with its winning rule.

        Rows with null routes apply to any route; a row with a route applies instead of the null row when
        the fill's route matches it (e.g. selegiline transdermal).
        """
        return self._pair_table


PAIR_TABLE_SCHEMA = {
    "ingredient_a": pl.String,
    "ingredient_b": pl.String,
    "rule_id": pl.String,
    "severity": pl.String,
    "severity_rank": pl.Int32,
    "route_a": pl.String,
    "route_b": pl.String,
    "washout_a_then_b": pl.Int32,
    "washout_b_then_a": pl.Int32,
    "min_overlap_days": pl.Int32,
    "rule_set": pl.String,
}


# ---------------------------------------------------------------------------- pair resolution helpers


def _expand_rule(rule: Rule, agents: dict[str, Agent]) -> Iterator[tuple[tuple[str, str], _Match]]:
    """Every (a < b) pair of different ingredients the rule covers, washouts turned to that order."""
    for x, y in itertools.product(rule.members_a, rule.members_b):
        if x.ingredient == y.ingredient:
            continue
        x_then_y = _washout_days(rule.washout_a_before_b, agents[x.ingredient])
        y_then_x = _washout_days(rule.washout_b_before_a, agents[y.ingredient])
        if x.ingredient < y.ingredient:
            yield (x.ingredient, y.ingredient), _Match(rule, x.route, y.route, x_then_y, y_then_x)
        else:
            yield (y.ingredient, x.ingredient), _Match(rule, y.route, x.route, y_then_x, x_then_y)


def _washout_days(value: Washout, stopped: Agent) -> int | None:
    if value == PER_DRUG:
        return stopped.per_drug_washout()
    return value if isinstance(value, int) else None


def _route_variants(matches: list[_Match]) -> list[tuple[str | None, str | None]]:
    routes_a = sorted({m.route_a for m in matches if m.route_a})
    routes_b = sorted({m.route_b for m in matches if m.route_b})
    return list(itertools.product([None, *routes_a], [None, *routes_b]))


def _applicable(matches: list[_Match], route_a: str | None, route_b: str | None) -> list[_Match]:
    """Matches that apply to fills with these routes; unqualified rules apply to every route."""
    return [m for m in matches if m.route_a in (None, route_a) and m.route_b in (None, route_b)]


def _winner(matches: list[_Match]) -> tuple[Rule | None, int | None, int | None]:
    if not matches:
        return None, None, None
    winner = min((m.rule for m in matches), key=_rule_order)
    # A rule whose sides share ingredients can match a pair both ways round: keep the longer washout.
    own = [m for m in matches if m.rule == winner]
    return (
        winner,
        _max_or_none(m.washout_a_then_b for m in own),
        _max_or_none(m.washout_b_then_a for m in own),
    )


def _max_or_none(values: Iterator[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


# ---------------------------------------------------------------------------- loading and validation


def load_rules(
    rules_dir: Path | None = None, include_related: bool = False, jurisdiction: str = "us"
) -> RuleSet:
    """Read and validate `rules/`; the `serotonergic` and `maoi` sets are active, `related` only with
    `include_related`. `jurisdiction` picks each rule's level: `us` (the default: US labels and FDA),
    `fr` (the ANSM level where ANSM has an entry, else the US level) or `strictest` (the higher)."""
    if jurisdiction not in JURISDICTIONS:
        raise SerosurvError(
            f"'{jurisdiction}' is not a jurisdiction for rule levels; use one of {', '.join(JURISDICTIONS)}."
        )
    rules_dir = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    paths = {name: rules_dir / name for name in RULE_FILES}
    for path in paths.values():
        if not path.is_file():
            raise SerosurvError(f"{path} is missing; restore it from the repository's rules/ folder.")
    agents = _load_agents(paths["agents.csv"])
    synonyms = _load_synonyms(paths["synonyms.csv"], agents)
    all_rules = _load_pair_rules(paths["pair_rules.csv"], agents)
    names = RULE_SETS if include_related else DEFAULT_RULE_SETS
    in_sets = [rule for rule in all_rules if rule.rule_set in names]
    rated = [_in_jurisdiction(rule, jurisdiction) for rule in in_sets]
    active = [rule for rule in rated if rule.severity]
    unrated = [rule for rule in rated if not rule.severity]
    return RuleSet(
        _hash_files(paths, rules_dir), agents, synonyms, active, names, jurisdiction, unrated, rules_dir
    )


def _in_jurisdiction(rule: Rule, jurisdiction: str) -> Rule:
    """The rule with the severity of `jurisdiction` (empty when it has none there)."""
    if jurisdiction == "us":
        level = rule.severity_us
    elif jurisdiction == "fr":
        level = rule.severity_ansm or rule.severity_us
    else:
        levels = [x for x in (rule.severity_us, rule.severity_ansm) if x]
        level = max(levels, key=SEVERITY_RANK.__getitem__) if levels else ""
    return dataclasses.replace(rule, severity=level)


def default_rules_dir() -> Path:
    from serosurv.core.resources import data_dir  # the checkout's rules/, or the wheel's package data

    return data_dir("rules")


def _hash_files(paths: dict[str, Path], rules_dir: Path) -> str:
    """SHA-256 of the rule files and then the RxNorm crosswalks the rules map codes with (the folder's own,
    else the shipped ones): a changed crosswalk changes what a night maps, so it changes the hash."""
    from serosurv.core.crosswalks import CROSSWALK_FILES, crosswalk_path

    digest = hashlib.sha256()
    for name in RULE_FILES:
        digest.update(name.encode() + b"\0" + paths[name].read_bytes() + b"\0")
    for name in CROSSWALK_FILES:
        path = crosswalk_path(rules_dir, name)
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"") + b"\0")
    return digest.hexdigest()


class _Rows:
    """CSV records with the line each starts on, and one-sentence errors naming file, line and field."""

    def __init__(self, path: Path, required: tuple[str, ...]) -> None:
        self.path = path
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            self.records: list[tuple[int, dict[str, str]]] = []
            line = reader.line_num
            for values in reader:
                self.records.append((line + 1, dict(zip(header, (v.strip() for v in values), strict=False))))
                line = reader.line_num
        self.header = header
        for column in required:
            if column not in self.header:
                raise self.error(1, column, "required column is missing", "add it to the header row")

    def error(self, line: int, field: str, problem: str, fix: str) -> SerosurvError:
        return SerosurvError(f"{self.path} line {line}, field {field}: {problem}; {fix}.")

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        for line, record in self.records:
            if any(record.values()):  # blank lines are allowed between groups of rows
                yield line, {key: record.get(key, "") or "" for key in self.header}


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(";") if part.strip())


def _days(rows: _Rows, line: int, field: str, value: str, allow_per_drug: bool = False) -> Washout:
    if value == "":
        return None
    if allow_per_drug and value == PER_DRUG:
        return PER_DRUG
    if not value.isdigit():
        allowed = (
            "a whole number of days >= 0, per_drug or empty"
            if allow_per_drug
            else "a whole number of days >= 0 or empty"
        )
        raise rows.error(line, field, f"'{value}' is not a valid washout", f"use {allowed}")
    return int(value)


def _agent_days(rows: _Rows, line: int, field: str, record: dict[str, str]) -> int | None:
    days = _days(rows, line, field, record[field])
    return days if isinstance(days, int) else None


def _require(rows: _Rows, line: int, record: dict[str, str], fields: tuple[str, ...]) -> None:
    for field in fields:
        if not record[field]:
            raise rows.error(line, field, "value is empty", "every row needs this value (and its source)")


def _load_agents(path: Path) -> dict[str, Agent]:
    rows = _Rows(path, AGENT_COLUMNS)
    agents: dict[str, Agent] = {}
    first_line: dict[str, int] = {}
    for line, r in rows:
        _require(rows, line, r, ("ingredient", "drug_class", "rule_groups", "source"))
        name = r["ingredient"].lower()
        if name in agents:
            raise rows.error(
                line,
                "ingredient",
                f"duplicate agent '{name}' (first on line {first_line[name]})",
                "keep one row per ingredient",
            )
        if r["rxcui"] and not r["rxcui"].isdigit():
            raise rows.error(
                line, "rxcui", f"'{r['rxcui']}' is not an RxCUI", "use digits only or leave empty"
            )
        routes = _split(r["routes_that_matter"])
        for route in routes:
            if route not in ROUTES:
                raise rows.error(
                    line, "routes_that_matter", f"unknown route '{route}'", f"use one of {', '.join(ROUTES)}"
                )
        default_route = r["default_route"] or None
        if default_route is not None and default_route not in routes:
            raise rows.error(
                line,
                "default_route",
                f"route '{default_route}' is not one of this agent's routes_that_matter",
                "list it there first or leave default_route empty",
            )
        burden = r["counts_toward_burden"].strip().lower()
        if burden not in ("yes", "no"):
            raise rows.error(
                line,
                "counts_toward_burden",
                f"'{r['counts_toward_burden']}' is not yes or no",
                "write yes for a serotonergic agent, no otherwise",
            )
        if burden == "yes" and r["serotonergic_role"].startswith("not serotonergic"):
            raise rows.error(
                line,
                "counts_toward_burden",
                f"agent '{name}' is '{r['serotonergic_role']}' but counts toward serotonergic burden",
                "write no, or correct serotonergic_role",
            )
        agents[name] = Agent(
            ingredient=name,
            drug_class=r["drug_class"],
            mechanism=r["mechanism"],
            rxcui=r["rxcui"] or None,
            atc_codes=_split(r["atc_codes"]),
            brand_names=r["brand_names"],
            serotonergic_role=r["serotonergic_role"],
            counts_toward_burden=burden == "yes",
            rule_groups=_split(r["rule_groups"]),
            washout_days_before_maoi=_agent_days(rows, line, "washout_days_before_maoi", r),
            washout_days_after_maoi=_agent_days(rows, line, "washout_days_after_maoi", r),
            routes_that_matter=routes,
            default_route=default_route,
            notes=r["notes"],
            source=r["source"],
            rxcui_source=r["rxcui_source"],
            atc_source=r["atc_source"],
            verification_note=r["verification_note"],
        )
        first_line[name] = line
    if not agents:
        raise rows.error(2, "ingredient", "the file has no agents", "restore rules/agents.csv")
    return agents


def _load_synonyms(path: Path, agents: dict[str, Agent]) -> list[Synonym]:
    rows = _Rows(path, SYNONYM_COLUMNS)
    synonyms: list[Synonym] = []
    first_line: dict[str, int] = {}
    for line, r in rows:
        _require(rows, line, r, ("name", "ingredients", "source"))
        name = r["name"].lower()
        if name in first_line:
            raise rows.error(
                line,
                "name",
                f"duplicate name '{name}' (first on line {first_line[name]})",
                "keep one row per name",
            )
        ingredients = _split(r["ingredients"].lower())
        if ingredients == (NO_AGENT,):  # a product name holding none of the agents (Sudafed PE)
            ingredients = ()
        for ingredient in ingredients:
            if ingredient not in agents:
                raise rows.error(
                    line,
                    "ingredients",
                    f"unknown ingredient '{ingredient}'",
                    "use an ingredient from agents.csv (other co-ingredients go in other_ingredients)",
                )
        route = r["route"] or None
        if route is not None and any(route not in agents[i].routes_that_matter for i in ingredients):
            raise rows.error(
                line,
                "route",
                f"route '{route}' is not tracked for {', '.join(ingredients)}",
                "list it in that agent's routes_that_matter or leave the route empty",
            )
        synonyms.append(Synonym(name, ingredients, _split(r["other_ingredients"]), route, r["source"]))
        first_line[name] = line
    return synonyms


def _load_pair_rules(path: Path, agents: dict[str, Agent]) -> list[Rule]:
    rows = _Rows(path, RULE_COLUMNS)
    groups: dict[str, list[str]] = {}
    for agent in agents.values():
        for tag in agent.rule_groups:
            groups.setdefault(tag, []).append(agent.ingredient)
    rules: list[Rule] = []
    first_line: dict[str, int] = {}
    for line, r in rows:
        _require(rows, line, r, ("rule_id", "side_a", "side_b", "source"))
        rule_id = r["rule_id"]
        if rule_id in first_line:
            raise rows.error(
                line,
                "rule_id",
                f"duplicate rule id '{rule_id}' (first on line {first_line[rule_id]})",
                "give each rule its own id",
            )
        first_line[rule_id] = line
        rules.append(_parse_rule(rows, line, r, agents, groups))
    return rules


def _parse_rule(
    rows: _Rows, line: int, r: dict[str, str], agents: dict[str, Agent], groups: dict[str, list[str]]
) -> Rule:
    for field in ("severity", "severity_ansm"):
        if r[field] and r[field] not in SEVERITY_RANK:
            raise rows.error(
                line,
                field,
                f"'{r[field]}' is not on the severity scale",
                f"use {', '.join(SEVERITY_RANK)}",
            )
    if not r["severity"] and not r["severity_ansm"]:
        raise rows.error(
            line,
            "severity",
            "the rule has neither a US severity nor an ANSM one",
            "give the level of at least one source",
        )
    if r["serotonin_syndrome_mechanism"] not in MECHANISM_VALUES:
        raise rows.error(
            line,
            "serotonin_syndrome_mechanism",
            f"'{r['serotonin_syndrome_mechanism']}' is not allowed",
            "use yes, partly or no",
        )
    if r["rule_set"] not in RULE_SETS:
        raise rows.error(
            line, "rule_set", f"unknown rule set '{r['rule_set']}'", f"use {', '.join(RULE_SETS)}"
        )
    overlap = r["min_overlap_days"] or "1"
    if not overlap.isdigit() or int(overlap) < 1:
        raise rows.error(
            line,
            "min_overlap_days",
            f"'{overlap}' is not a whole number of days >= 1",
            "use 1 or more, or leave empty for 1",
        )
    members_a = _expand_side(rows, line, "side_a", r["side_a"], agents, groups)
    members_b = _expand_side(rows, line, "side_b", r["side_b"], agents, groups)
    pairs = {
        frozenset((x.ingredient, y.ingredient))
        for x in members_a
        for y in members_b
        if x.ingredient != y.ingredient
    }
    if not pairs:
        raise rows.error(
            line, "side_b", "the two sides give no pair of different ingredients", "check the sides"
        )
    return Rule(
        rule_id=r["rule_id"],
        side_a=r["side_a"],
        side_b=r["side_b"],
        members_a=members_a,
        members_b=members_b,
        severity=r["severity"],
        severity_us=r["severity"],
        severity_ansm=r["severity_ansm"],
        mechanism=r["mechanism"],
        clinical_guidance=r["clinical_guidance"],
        source=r["source"],
        washout_period=r["washout_period"],
        washout_a_before_b=_days(rows, line, "washout_a_before_b", r["washout_a_before_b"], True),
        washout_b_before_a=_days(rows, line, "washout_b_before_a", r["washout_b_before_a"], True),
        min_overlap_days=int(overlap),
        severity_basis=r["severity_basis"],
        ansm_level=r["ansm_level"],
        serotonin_syndrome_mechanism=r["serotonin_syndrome_mechanism"],
        rule_set=r["rule_set"],
        notes=r["notes"],
        verification_note=r["verification_note"],
        pair_count=len(pairs),
    )


_SIDE_TERM = re.compile(r"\s+([+-])\s+")


def _expand_side(
    rows: _Rows, line: int, field: str, text: str, agents: dict[str, Agent], groups: dict[str, list[str]]
) -> tuple[Member, ...]:
    """`group:TAG + ingredient:a;b@route - ingredient:c` -> members, in file order, without duplicates.

    Terms are joined by ` + ` (add) or ` - ` (leave out every member of that ingredient)."""
    members: dict[Member, None] = {}
    terms = _SIDE_TERM.split(text.strip())
    for operator, part in zip(["+", *terms[1::2]], [terms[0], *terms[2::2]], strict=True):
        part = part.strip()
        found: list[Member] = []
        kind, _, body = part.partition(":")
        if kind == "group" and body.strip():
            tag = body.strip()
            if tag not in groups:
                raise rows.error(
                    line, field, f"unknown group tag '{tag}'", "use a tag listed in agents.csv rule_groups"
                )
            found = [Member(i) for i in groups[tag]]
        elif kind == "ingredient" and _split(body):
            found = [_parse_member(rows, line, field, item, agents) for item in _split(body)]
        else:
            raise rows.error(
                line,
                field,
                f"'{part}' expands to nothing",
                "write group:TAG or ingredient:name;name joined by + (or - to leave some out)",
            )
        if operator == "+":
            members.update((m, None) for m in found)
        else:
            left_out = {m.ingredient for m in found}
            members = {m: None for m in members if m.ingredient not in left_out}
    if not members:
        raise rows.error(line, field, f"'{text}' leaves no ingredient", "check what the side leaves out")
    return tuple(members)


def _parse_member(rows: _Rows, line: int, field: str, item: str, agents: dict[str, Agent]) -> Member:
    name, _, route = item.lower().partition("@")
    name, route = name.strip(), route.strip() or None
    if name not in agents:
        raise rows.error(
            line, field, f"unknown ingredient '{name}'", "add it to agents.csv with its sources first"
        )
    if route is not None and route not in agents[name].routes_that_matter:
        raise rows.error(
            line,
            field,
            f"route '{route}' is not tracked for {name}",
            "list it in that agent's routes_that_matter",
        )
    return Member(name, route)


def add_synonym(
    name: str,
    ingredients: list[str],
    source: str,
    rules_dir: Path | None = None,
    route: str | None = None,
    other_ingredients: list[str] | None = None,
) -> Path:
    """Append a name to synonyms.csv (a pharmacist accepting an approximately matched or new name), after
    checking that the edited rule folder still loads; returns the file written."""
    import shutil
    import tempfile

    folder = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    target = folder / "synonyms.csv"
    if not target.is_file():
        raise SerosurvError(f"{target} does not exist; give the rule folder with --rules DIR.")
    if not source.strip():
        raise SerosurvError("--source must say where the name comes from (e.g. 'pharmacist review, feed X').")
    row = [
        name.strip(),
        ";".join(i.strip().lower() for i in ingredients),
        ";".join(other_ingredients or []),
        route or "",
        source.strip(),
    ]
    text = target.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        trial = Path(tmp) / "rules"
        shutil.copytree(folder, trial)
        with (trial / "synonyms.csv").open("a", encoding="utf-8", newline="") as handle:
            if text and not text.endswith("\n"):
                handle.write("\n")
            csv.writer(handle, lineterminator="\n").writerow(row)
        try:
            load_rules(trial)  # refuses an unknown ingredient, a duplicate name, a route that does not matter
        except SerosurvError as exc:  # name the user's file, not the trial copy
            raise SerosurvError(str(exc).replace(str(trial / "synonyms.csv"), str(target))) from None
        shutil.copyfile(trial / "synonyms.csv", target)
    return target
