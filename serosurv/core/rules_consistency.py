"""One mechanism, one severity: where drugs of one mechanism are rated differently with the same partner.

rules/consistency.csv names the groups of agents that share a mechanism (the MAO inhibitors, the serotonin
precursors, ...) and the differences a source explains (the selective MAO-B labels contraindicate only what
they name). `check_consistency` resolves every group member against every partner under the rule set as
loaded and reports each partner for which a member is rated below another member of its group without a
documented reason: a reviewer's list of places where a rule is probably missing or understated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from serosurv.core.errors import SerosurvError
from serosurv.core.rules import SEVERITY_RANK, Member, RuleSet, _expand_side, _Rows

CONSISTENCY_FILE = "consistency.csv"
CONSISTENCY_COLUMNS = ("kind", "name", "members", "partners", "reason", "source")


@dataclass(frozen=True)
class Rated:
    member: Member
    severity: str  # "" when no rule covers the pair
    rule_id: str

    @property
    def rank(self) -> int:
        return SEVERITY_RANK.get(self.severity, 0)

    def text(self) -> str:
        name = (
            f"{self.member.ingredient}@{self.member.route}" if self.member.route else self.member.ingredient
        )
        return f"{name} {self.severity} ({self.rule_id})" if self.severity else f"{name} no rule"


@dataclass(frozen=True)
class Finding:
    """Members of one mechanism group rated below another member with the same partner."""

    group: str
    partner: str
    highest: Rated
    lower: tuple[Rated, ...]
    explained: bool  # every lower member is covered by a documented exception
    reasons: tuple[str, ...]

    def sentence(self) -> str:
        lower = ", ".join(r.text() for r in self.lower)
        return f"{self.group} + {self.partner}: {lower}, but {self.highest.text()}"


@dataclass(frozen=True)
class _Exception:
    members: frozenset[Member]
    partners: frozenset[str]
    reason: str
    source: str


def check_consistency(ruleset: RuleSet, rules_dir: Path) -> list[Finding]:
    """Every (group, partner) with members rated differently; unexplained ones first."""
    path = Path(rules_dir) / CONSISTENCY_FILE
    if not path.is_file():
        raise SerosurvError(f"{path} is missing; restore it from the repository's rules/ folder.")
    groups, exceptions = _load(path, ruleset)
    findings = []
    for name, members in groups.items():
        in_group = {m.ingredient for m in members}
        for partner in sorted(ruleset.agents):
            if partner in in_group:
                continue
            rated = [_rate(ruleset, member, partner) for member in members]
            top = max(rated, key=lambda r: r.rank)
            lower = tuple(r for r in rated if r.rank < top.rank)
            if not lower:
                continue
            covering = [
                [e for e in exceptions if r.member in e.members and partner in e.partners] for r in lower
            ]
            reasons = tuple(dict.fromkeys(e.reason for found in covering for e in found))
            findings.append(Finding(name, partner, top, lower, all(covering), reasons))
    return sorted(findings, key=lambda f: (f.explained, f.group, f.partner))


def _rate(ruleset: RuleSet, member: Member, partner: str) -> Rated:
    winner = ruleset.resolve(member.ingredient, partner, member.route, None).winner
    return Rated(member, winner.severity if winner else "", winner.rule_id if winner else "")


def _load(path: Path, ruleset: RuleSet) -> tuple[dict[str, tuple[Member, ...]], list[_Exception]]:
    rows = _Rows(path, CONSISTENCY_COLUMNS)
    tags: dict[str, list[str]] = {}
    for agent in ruleset.agents.values():
        for tag in agent.rule_groups:
            tags.setdefault(tag, []).append(agent.ingredient)
    groups: dict[str, tuple[Member, ...]] = {}
    exceptions: list[_Exception] = []
    for line, r in rows:
        for field in ("kind", "name", "members", "reason", "source"):
            if not r[field]:
                raise rows.error(line, field, "value is empty", "every row needs it")
        members = _expand_side(rows, line, "members", r["members"], ruleset.agents, tags)
        if r["kind"] == "group":
            if r["name"] in groups:
                raise rows.error(
                    line, "name", f"duplicate group '{r['name']}'", "give each group its own name"
                )
            groups[r["name"]] = members
        elif r["kind"] == "exception":
            if not r["partners"]:
                raise rows.error(line, "partners", "value is empty", "name the partners the reason covers")
            partners = _expand_side(rows, line, "partners", r["partners"], ruleset.agents, tags)
            exceptions.append(
                _Exception(
                    frozenset(members), frozenset(m.ingredient for m in partners), r["reason"], r["source"]
                )
            )
        else:
            raise rows.error(line, "kind", f"unknown kind '{r['kind']}'", "use group or exception")
    return groups, exceptions
