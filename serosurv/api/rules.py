"""The clinical rules: the drugs they know, why two drugs interact, checking an edited rule folder, and
accepting a name a pharmacy sends."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from serosurv.core.drugnames import map_drug_name
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import RULE_FILES, Resolution, RuleSet, default_rules_dir, load_rules
from serosurv.core.rules import add_synonym as _add_synonym
from serosurv.core.rules_consistency import CONSISTENCY_FILE, Finding, check_consistency


@dataclass(frozen=True)
class AgentList:
    """The drugs the active rules name (one row each), the rule sets and the rules hash; `comparators`
    are drugs only the related rules name (shown with include_related)."""

    agents: pl.DataFrame
    rule_sets: tuple[str, ...]
    rules_hash: str
    comparators: list[str]


@dataclass(frozen=True)
class PairExplanation:
    """One pair of ingredients of the two names: the winning rule, the washouts both ways, every rule
    that matches (most severe first), the rules with no level in this jurisdiction, and, when no active
    rule matches, the related set's winner."""

    ingredient_a: str
    route_a: str | None
    ingredient_b: str
    route_b: str | None
    winner: dict[str, Any] | None
    washout_a_then_b: int | None
    washout_b_then_a: int | None
    matches: list[dict[str, Any]]
    not_applied: list[dict[str, Any]] = field(default_factory=list)
    related_winner: dict[str, Any] | None = None


@dataclass(frozen=True)
class Explanation:
    """Why two drug names interact: what each maps to, and every pair of their ingredients."""

    a_name: str
    a_ingredients: list[tuple[str, str | None]]
    b_name: str
    b_ingredients: list[tuple[str, str | None]]
    rule_sets: tuple[str, ...]
    jurisdiction: str
    rules_hash: str
    pairs: list[PairExplanation]
    include_related: bool


@dataclass(frozen=True)
class RulesCheck:
    """A rule folder loaded as the nightly run loads it, and the drugs of one mechanism rated differently."""

    folder: Path | None  # None: the built-in rules/
    agents: int
    synonyms: int
    rules_by_set: dict[str, int]
    unrated: int  # rules with a level only in the other jurisdiction
    to_verify: int  # rows carrying a verification note
    rules_hash: str
    jurisdiction: str
    consistency_checked: bool
    findings: list[Finding]

    @property
    def unexplained(self) -> list[Finding]:
        return [f for f in self.findings if not f.explained]


def list_agents(
    drug_class: str | None = None, include_related: bool = False, rules_dir: Path | str | None = None
) -> AgentList:
    """The drugs the rules know (of one class: SSRI, MAOI, ...): class, serotonergic role, washouts, routes."""
    ruleset = load_rules(rules_dir, include_related=include_related)
    in_rules = ruleset.serotonergic_ingredients()
    agents = [agent for agent in ruleset.agents.values() if agent.ingredient in in_rules]
    classes = sorted({agent.drug_class for agent in ruleset.agents.values()}, key=str.lower)
    wanted = None
    if drug_class is not None:
        wanted = {c.lower(): c for c in classes}.get(drug_class.strip().lower())
        if wanted is None:
            raise SerosurvError(
                f"'{drug_class}' is not a drug class in agents.csv; use one of {', '.join(classes)}."
            )
        agents = [agent for agent in agents if agent.drug_class == wanted]
    table = pl.DataFrame(
        [
            {
                "ingredient": a.ingredient,
                "drug_class": a.drug_class,
                "serotonergic_role": a.serotonergic_role,
                "washout_days_before_maoi": a.washout_days_before_maoi,
                "washout_days_after_maoi": a.washout_days_after_maoi,
                "routes_that_matter": list(a.routes_that_matter),
            }
            for a in sorted(agents, key=lambda a: (a.drug_class.lower(), a.ingredient))
        ],
        schema={
            "ingredient": pl.String,
            "drug_class": pl.String,
            "serotonergic_role": pl.String,
            "washout_days_before_maoi": pl.Int32,
            "washout_days_after_maoi": pl.Int32,
            "routes_that_matter": pl.List(pl.String),
        },
    )
    comparators: list[str] = []
    if not include_related:
        comparators = sorted(set(ruleset.agents) - in_rules)
        if wanted is not None:
            comparators = [name for name in comparators if ruleset.agents[name].drug_class == wanted]
    return AgentList(table, ruleset.rule_set_names, ruleset.hash, comparators)


def explain(
    drug_a: str,
    drug_b: str,
    include_related: bool = False,
    rules_dir: Path | str | None = None,
    jurisdiction: str = "us",
) -> Explanation:
    """Why two drugs, given by any name a pharmacy sends (brand, salt, strength, tall-man), interact:
    every matching rule, most severe first, the winner, the washouts both ways, the US and ANSM levels."""
    ruleset = load_rules(rules_dir, include_related=include_related, jurisdiction=jurisdiction)
    related = (
        None if include_related else load_rules(rules_dir, include_related=True, jurisdiction=jurisdiction)
    )
    sides = {}
    for key, name in (("a", drug_a), ("b", drug_b)):
        mapped = map_drug_name(name, ruleset)
        if not mapped:
            raise SerosurvError(
                f"'{name}' is not a drug name the rule set knows; check the spelling or add the name to "
                "rules/synonyms.csv."
            )
        sides[key] = mapped
    pairs = []
    for (ing_a, route_a), (ing_b, route_b) in itertools.product(sides["a"], sides["b"]):
        if ing_a == ing_b:
            continue
        res = ruleset.resolve(ing_a, ing_b, route_a, route_b)
        related_winner = None
        if res.winner is None and related is not None:
            other = related.resolve(ing_a, ing_b, route_a, route_b).winner
            related_winner = other.describe() if other else None
        pairs.append(
            PairExplanation(
                ingredient_a=ing_a,
                route_a=res.route_a,
                ingredient_b=ing_b,
                route_b=res.route_b,
                winner=res.winner.describe() if res.winner else None,
                washout_a_then_b=res.washout_a_then_b,
                washout_b_then_a=res.washout_b_then_a,
                matches=[rule.describe() for rule in res.matches],
                not_applied=[rule.describe() for rule in _unrated_for(ruleset, res)],
                related_winner=related_winner,
            )
        )
    return Explanation(
        drug_a,
        sides["a"],
        drug_b,
        sides["b"],
        ruleset.rule_set_names,
        ruleset.jurisdiction,
        ruleset.hash,
        pairs,
        include_related,
    )


def _unrated_for(ruleset: RuleSet, res: Resolution) -> list:
    """Rules of the active sets that match the pair but have no level in this jurisdiction."""
    if not ruleset.unrated:
        return []
    anywhere = ruleset.with_rules([r.rated_anywhere() for r in ruleset.unrated])
    found = anywhere.resolve(res.ingredient_a, res.ingredient_b, res.route_a, res.route_b).matches
    wanted = {rule.rule_id for rule in ruleset.unrated}
    return [rule for rule in found if rule.rule_id in wanted]


def check_rules(path: Path | str | None = None, jurisdiction: str = "us") -> RulesCheck:
    """Load a rule folder (or the folder of one of its files; default the built-in rules/) exactly as the
    nightly run does, then compare the drugs of one mechanism (rules/consistency.csv) with every partner.
    Raises SerosurvError naming the file, line and field at the first problem."""
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
    directory = folder if folder is not None else default_rules_dir()
    checked = (directory / CONSISTENCY_FILE).is_file()
    findings = check_consistency(load_rules(folder, jurisdiction=jurisdiction), directory) if checked else []
    return RulesCheck(
        folder,
        len(ruleset.agents),
        len(ruleset.synonyms),
        by_set,
        len(ruleset.unrated),
        to_verify,
        ruleset.hash,
        jurisdiction,
        checked,
        findings,
    )


def add_synonym(
    name: str,
    ingredients: list[str],
    source: str,
    rules_dir: Path | str | None = None,
    route: str | None = None,
    other_ingredients: list[str] | None = None,
) -> Path:
    """Accept a drug name (a misspelling the report matched approximately, a foreign or new brand) into
    synonyms.csv, after checking that the edited folder still loads; returns the file written. The rules
    hash changes, so the next night recomputes every patient."""
    return _add_synonym(
        name, ingredients, source, rules_dir=rules_dir, route=route, other_ingredients=other_ingredients
    )
