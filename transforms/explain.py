"""Why did (or didn't) an interaction fire for one patient (`serosurv explain PATIENT`)?

Every claim of the patient gets its fate (FATES: accepted and used in an episode; quarantined and why;
cancelled by a reversal; dropped as a duplicate; combined with same-day fills; an early refill truncated or
carried over; not mapped, with the nearest rule drug when the name looks misspelt; ...), the episodes per
ingredient are listed, and every pair of the patient's rule ingredients gets a verdict (VERDICTS) with its
reason in words: the interaction and its alert (status, priority parts), or why there is none.

Where the answers come from:

* The night. By default the latest successful night: the warehouse's tables are that night's, and its
  stored interactions and alert states are the facts behind "found" verdicts. With `as_of`, the night of
  that date is recomputed: the patient's claims with fill dates up to that date (those the warehouse holds
  now, as a rerun of that night would see them), with the settings of the latest successful night on or
  before it, and the alert states recorded for that night if one ran.
* The steps. The warehouse keeps what the engine built (episodes, interactions), not its steps (which
  claim a reversal cancelled, which duplicate was dropped, which same-day fills were combined, where an
  early refill's supply went). So the engine's own SQL (transforms.engine over sql/intermediate and
  sql/marts/interactions.sql) is replayed on an in-memory copy of the patient's claims and their mapping
  (fill_ingredients, as the night mapped them), with the night's recorded settings and rules: the same
  statements, so the same answers. In the default mode the replayed interactions are compared with the
  stored ones and a difference is said (the rules or settings changed since the night).
* Nothing is written and nothing is logged: the caller reads the facts on a read-only connection
  (`gather`) and closes it; the replay runs in a scratch in-memory database; the explanation names the
  patient, so it goes only to the pharmacist who asked.

Rows a night quarantined are found by the patient id in their raw text (sql/analyses/patient_quarantine.sql);
their drugs are mapped here, for the explanation only (the night never maps a quarantined row).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from serosurv.core.config import Config, recorded_config
from serosurv.core.crosswalks import shipped_ndc, shipped_rxcui
from serosurv.core.drugnames import map_drug_name, map_rxcui, normalise_ndc
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import RuleSet, load_rules
from serosurv.core.severity import SEVERITY_RANK
from serosurv.core.warehouse import CANONICAL_COLUMNS, ensure_schema
from transforms import engine, normalise
from transforms.runs import latest_success
from transforms.sql import fetch_dicts, fetch_frame, fetch_one, insert_frame, table_dicts

# What happened to a claim (or a quarantined row), in the order a claim meets the steps of a night.
FATES = {
    "quarantined": "not accepted: the row broke the claims contract (reason code and field given)",
    "reversal": "a reversal: it cancels the claim it names or matches, and covers no days itself",
    "after_night": "filled after the night explained: not yet known that night",
    "cancelled": "cancelled by a reversal or an adjustment",
    "not_mapped": "its drug (name, NDC or RxCUI) maps to no drug the rules know",
    "not_in_rules": "maps to a drug that no active rule names",
    "duplicate": "an exact duplicate of another claim (same drug, dates, prescriber, pharmacy): dropped",
    "combined_same_day": "combined with the same day's other fills of the drug (episodes.same_day)",
    "early_refill_truncated": "an early refill counted from its fill date: the days left of the supply on "
    "hand are not carried forward (episodes.stockpiling = none)",
    "early_refill_carried_over": "an early refill whose supply starts when the supply on hand runs out "
    "(episodes.stockpiling = carryover or capped)",
    "short_episode": "its episode is shorter than episodes.min_episode_days: dropped",
    "used": "accepted and part of an exposure episode",
}
# Why a pair of the patient's ingredients did or did not give an interaction.
VERDICTS = {
    "alerted": "an interaction on the night's worklist (an alert: id, status, priority)",
    "interaction_found": "an interaction current on the night, without an alert state for that night",
    "outside_lookback": "an interaction that ended more than alerts.lookback_days before the night, so not on "
    "that night's worklist",
    "no_rule": "no rule covers this pair",
    "route_not_covered": "a rule covers the pair only by another route (e.g. methylene blue IV)",
    "combination_product": "only one combination product holds both ingredients: it never interacts with "
    "itself",
    "overlap_below_minimum": "covered together on fewer days than the rule's minimum overlap",
    "beyond_washout": "never together, and the second started after the washout the rule sets in that "
    "direction",
    "no_overlap": "never covered on the same day, and the rule sets no washout in that direction",
    "side_quarantined": "one side's rows were all quarantined, so it has no exposure",
    "name_not_recognised": "one side is only a name that maps to no drug (it looks like a misspelt rule drug)",
    "no_exposure": "one side has claims but no exposure up to the night (cancelled, later, dropped)",
    "no_claims": "the patient has no claim of one of the drugs asked about",
    "unexplained": "the episodes meet a rule but the engine found no interaction (unexpected: report it)",
}
# Verdicts in the order an explanation lists them: findings, then near misses, then the rest.
VERDICT_ORDER = tuple(VERDICTS)
FOUND = ("alerted", "interaction_found", "outside_lookback")
TRACE_TABLES = (
    "cancelled_claims",
    "fill_exposure",
    "fills",
    "stockpiled_fills",
    "episode_fills",
    "episodes",
    "interactions",
)


# ---------------------------------------------------------------------------- the result


@dataclass
class ClaimFate:
    """One claim, or one row the night quarantined, and what became of it."""

    claim_id: str | None
    source_file: str | None
    source_row: int | None
    loaded_night: date | None
    fill_date: date | None
    days_supply: int | None
    end_date: date | None
    drug: str  # as the row names it: drug name, NDC or RxCUI
    prescriber_id: str | None
    pharmacy_id: str | None
    claim_status: str | None
    accepted: bool
    fate: str  # a key of FATES
    words: str  # the fate in words, with its particulars
    mapped: list[dict[str, Any]]  # ingredient, route, mapped_by (ndc, rxcui, name, name_approx; or guessed)
    mapping: str  # what the drug mapped to, in words
    reason_code: str | None = None  # quarantined rows
    ingredients: list[str] = field(default_factory=list)  # the rule ingredients it stands for


@dataclass
class EpisodeView:
    ingredient: str
    start: date
    end: date
    supply_end: date | None  # the day the patient runs out taking every dose (where washouts count from)
    claim_ids: list[str]
    prescriber_ids: list[str]
    pharmacy_ids: list[str]
    routes: list[str]


@dataclass
class Verdict:
    ingredient_a: str
    ingredient_b: str
    code: str  # a key of VERDICTS
    words: str  # the reason in words
    rule_id: str | None = None
    severity: str | None = None
    interactions: list[dict[str, Any]] = field(default_factory=list)
    alert: dict[str, Any] | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # the numbers behind the words
    notes: list[str] = field(default_factory=list)


@dataclass
class PatientExplanation:
    patient_id: str
    night: date
    mode: str  # "night": the latest successful night's tables; "as_of": that date's night recomputed
    run_id: str | None
    rules_hash: str
    settings: dict[str, Any]
    claims: list[ClaimFate]
    episodes: list[EpisodeView]
    verdicts: list[Verdict]
    exposures: list[dict[str, Any]]  # the fills' days, for the timeline (fill_exposure)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"fates": FATES, "verdict_codes": VERDICTS, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, indent=2)


# ---------------------------------------------------------------------------- reading the warehouse


@dataclass
class Facts:
    """What the warehouse holds about the patient, read on a read-only connection."""

    patient_id: str
    night: date
    mode: str
    run: dict[str, Any]
    config: Config
    claims: pl.DataFrame
    mapping: list[dict[str, Any]]
    quarantined: list[dict[str, Any]]
    stored_interactions: list[dict[str, Any]]
    history: list[dict[str, Any]]
    ndc_ingredients: dict[str, list[tuple[str, str | None]]]
    rxcui_ingredients: dict[str, list[tuple[str, str | None]]]
    notes: list[str]


def gather(con: duckdb.DuckDBPyConnection, patient_id: str, as_of: date | None = None) -> Facts:
    """Read the patient's claims, mapping, quarantined rows, interactions and alert states, and the night
    (the latest successful one, or the night of `as_of`). Raises SerosurvError (without the id) when the
    warehouse has no night or holds nothing of the patient."""
    latest = latest_success(con)
    if latest is None:
        raise SerosurvError("The warehouse has no successful night yet; run one before asking why.")
    run = latest
    notes: list[str] = []
    if as_of is not None:
        run = fetch_one(con, "analyses/successful_night_on_or_before.sql", {"as_of": as_of}) or latest
        if run is latest and latest["as_of"] > as_of:
            notes.append(
                f"No successful night ran on or before {as_of}: the settings and rules are those of the "
                f"night of {latest['as_of']}."
            )
    night = as_of or run["as_of"]
    config = recorded_config(run.get("parameters"))
    patient = patient_id.strip()
    found = _patient_rows(con, patient, night)
    if not found[0].height and not found[1] and config.privacy.pseudonymise:
        pseudonym = _pseudonym(config, patient)
        if pseudonym is not None:
            patient, found = pseudonym, _patient_rows(con, pseudonym, night)
            notes.append(
                f"The nights pseudonymise ids: the id given was looked up as its pseudonym (key from "
                f"${config.privacy.key_env})."
            )
    claims, quarantined = found
    if not claims.height and not quarantined:
        raise SerosurvError(
            "No claim and no quarantined row in the warehouse carries the patient id given (ids are "
            "matched exactly, spaces trimmed, as the claims carry them); check the id and --warehouse."
        )
    ndcs = sorted({n for row in quarantined if (n := _row_facts(row)["ndc"])})
    by_ndc: dict[str, list[tuple[str, str | None]]] = {}
    for row in fetch_dicts(con, "analyses/ndc_ingredients.sql", {"ndcs": ndcs}) if ndcs else []:
        by_ndc.setdefault(row["ndc"], []).append((row["ingredient"], row["route"]))
    rxcuis = sorted({n for row in quarantined if (n := _row_facts(row)["rxcui"])})
    by_rxcui: dict[str, list[tuple[str, str | None]]] = {}
    for row in fetch_dicts(con, "analyses/rxcui_ingredients.sql", {"rxcuis": rxcuis}) if rxcuis else []:
        by_rxcui.setdefault(row["rxcui"], []).append((row["ingredient"], row["route"]))
    return Facts(
        patient_id=patient,
        night=night,
        mode="night" if as_of is None else "as_of",
        run=run,
        config=config,
        claims=claims,
        mapping=fetch_dicts(con, "analyses/patient_fill_ingredients.sql", {"patient": patient}),
        quarantined=quarantined,
        stored_interactions=fetch_dicts(con, "analyses/patient_interactions.sql", {"patient": patient})
        if as_of is None
        else [],
        history=fetch_dicts(con, "analyses/patient_alert_history.sql", {"patient": patient, "night": night}),
        ndc_ingredients=by_ndc,
        rxcui_ingredients=by_rxcui,
        notes=notes,
    )


def _patient_rows(
    con: duckdb.DuckDBPyConnection, patient: str, night: date
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    claims = fetch_frame(con, "analyses/patient_claims.sql", {"patient": patient})
    quarantined = fetch_dicts(con, "analyses/patient_quarantine.sql", {"patient": patient, "night": night})
    return claims, quarantined


def _pseudonym(config: Config, patient: str) -> str | None:
    """The pseudonym of `patient` with the key in the configured variable, None without a usable key."""
    from transforms.pseudonymise import key_from_environment, pseudonymiser

    try:
        key = key_from_environment(config.privacy)
    except SerosurvError:
        return None
    return pseudonymiser(key, "patient_id")(patient)


def night_ruleset(run: dict[str, Any]) -> RuleSet:
    """The rules a night ran with (its recorded rule folder, related set and jurisdiction)."""
    settings = recorded_config(run.get("parameters")).rules
    return load_rules(
        Path(settings.directory) if settings.directory else None,
        include_related=settings.include_related,
        jurisdiction=settings.jurisdiction,
    )


# ---------------------------------------------------------------------------- replaying the engine

CLAIM_COLUMNS = (*CANONICAL_COLUMNS, "source_file", "source_row", "run_id")
# How an ongoing order's exposure is explained (a start without stop date or days supply).
ONGOING_ORDER = "an ongoing order (no stop date): counted to the night"
MAPPING_SCHEMA = {
    "claim_id": pl.String,
    "patient_id": pl.String,  # a claim is (patient_id, claim_id): the engine joins on both
    "ingredient": pl.String,
    "route": pl.String,
    "mapped_by": pl.String,
}


@dataclass
class Trace:
    """The engine's tables for the patient (TRACE_TABLES, as lists of rows) and, for each name that maps
    to nothing, the rule names it is closest to."""

    tables: dict[str, list[dict[str, Any]]]
    nearest: dict[str, list[dict[str, Any]]]


def replay(facts: Facts, ruleset: RuleSet, unmapped_names: list[str]) -> Trace:
    """The engine's own SQL on an in-memory copy of the patient's claims and mapping, as of the night."""
    con = duckdb.connect()
    try:
        ensure_schema(con)
        if facts.claims.height:
            insert_frame(con, "claims", facts.claims.select(CLAIM_COLUMNS))
        mapping = pl.DataFrame(
            [{k: m[k] for k in MAPPING_SCHEMA} for m in facts.mapping], schema=MAPPING_SCHEMA, orient="row"
        )
        if mapping.height:
            insert_frame(con, "fill_ingredients", mapping)
        engine.register_rules(con, ruleset.pair_table(), ruleset.burden_ingredients())
        engine.build_episodes(con, facts.night, facts.config.episodes, trace=True)
        engine.find_interactions(con, facts.config.interactions, facts.config.episodes)
        tables = {name: table_dicts(con, name) for name in TRACE_TABLES}
        nearest = _nearest_agents(con, ruleset, unmapped_names)
    finally:
        con.close()
    return Trace(tables, nearest)


def _nearest_agents(
    con: duckdb.DuckDBPyConnection, ruleset: RuleSet, names: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """drug name -> the rule names its unknown words are closest to (sql/analyses/nearest_agent_words.sql)."""
    found = normalise.name_words_against_agents(
        con, ruleset, names, "analyses/nearest_agent_words.sql"
    ).to_dicts()
    nearest: dict[str, list[dict[str, Any]]] = {}
    for row in found:
        nearest.setdefault(row["drug_name"], []).append(row)
    return nearest


# ---------------------------------------------------------------------------- the explanation


def build_explanation(
    facts: Facts, ruleset: RuleSet, pair: tuple[list[str], list[str]] | None = None
) -> PatientExplanation:
    """Every claim's fate, the episodes, and a verdict for every pair of the patient's rule ingredients
    (or only the pairs of `pair`: the ingredients of two drug names)."""
    rule_ingredients = set(ruleset.pair_table().get_column("ingredient_a")) | set(
        ruleset.pair_table().get_column("ingredient_b")
    )
    claims = facts.claims.to_dicts()
    mapping: dict[str, list[dict[str, Any]]] = {}
    for m in facts.mapping:
        mapping.setdefault(m["claim_id"], []).append(m)
    rows = [_row_facts(q) for q in facts.quarantined]
    unmapped = sorted(
        {c["drug_name"] for c in claims if c["drug_name"] and not mapping.get(c["claim_id"])}
        | {r["drug_name"] for r in rows if r["drug_name"] and not _map_row(r, ruleset, facts)}
    )
    trace = replay(facts, ruleset, unmapped)
    book = _Book(facts, ruleset, trace, rule_ingredients, claims, mapping)
    fates = [book.claim_fate(c) for c in claims]
    fates += [book.quarantine_fate(q, r) for q, r in zip(facts.quarantined, rows, strict=True)]
    fates.sort(key=lambda f: (f.fill_date or date.min, f.claim_id or "", f.source_row or 0))
    episodes = [
        EpisodeView(
            ingredient=e["ingredient"],
            start=e["episode_start"],
            end=e["episode_end"],
            supply_end=e["supply_end"],
            claim_ids=list(e["claim_ids"] or []),
            prescriber_ids=[p for p in e["prescriber_ids"] or [] if p],
            pharmacy_ids=[p for p in e["pharmacy_ids"] or [] if p],
            routes=[r for r in e["routes"] or [] if r],
        )
        for e in sorted(trace.tables["episodes"], key=lambda e: (e["ingredient"], e["episode_start"]))
    ]
    verdicts = book.verdicts(fates, episodes, pair)
    notes = [*facts.notes, *book.cross_check()]
    if facts.run.get("rules_hash") and facts.run["rules_hash"] != ruleset.hash:
        notes.append(
            f"The rules changed since the night (it recorded rules version {facts.run['rules_hash'][:12]}, the "
            f"folder now gives {ruleset.hash[:12]}): the reasons below use the rules as they are now."
        )
    exposures = [
        {
            k: e[k]
            for k in (
                "ingredient",
                "exposure_start",
                "exposure_end",
                "prescriber_id",
                "pharmacy_id",
                "claim_id",
            )
        }
        for e in trace.tables["fill_exposure"]
    ]
    return PatientExplanation(
        patient_id=facts.patient_id,
        night=facts.night,
        mode=facts.mode,
        run_id=facts.run.get("run_id"),
        rules_hash=ruleset.hash,
        settings=_settings(facts.config),
        claims=fates,
        episodes=episodes,
        verdicts=verdicts,
        exposures=exposures,
        notes=notes,
    )


def _settings(config: Config) -> dict[str, Any]:
    e, i, a, r = config.episodes, config.interactions, config.alerts, config.rules
    return {
        "episodes.grace_days": e.grace_days,
        "episodes.grace_percent": e.grace_percent,
        "episodes.stockpiling": e.stockpiling,
        "episodes.same_day": e.same_day,
        "episodes.min_episode_days": e.min_episode_days,
        "episodes.end_convention": e.end_convention,
        "episodes.ongoing_max_days": e.ongoing_max_days,
        "interactions.merge_gap_days": i.merge_gap_days,
        "alerts.lookback_days": a.lookback_days,
        "rules.jurisdiction": r.jurisdiction,
        "rules.include_related": r.include_related,
    }


# ---------------------------------------------------------------------------- quarantined rows

# Where a quarantined row's facts are, by field (the canonical names first, then adapters' source names;
# keys compared in lower case).
ROW_KEYS = {
    "claim_id": ("claim_id",),
    "fill_date": ("fill_date", "starttime", "drug_exposure_start_date", "srvc_dt", "rxdate"),
    "days_supply": ("days_supply", "days_suply_num", "rxsup"),
    "end_date": ("end_date", "stoptime", "drug_exposure_end_date"),
    "drug_name": ("drug_name", "drug", "drug_source_value"),
    "ndc": ("ndc", "prod_srvc_id"),
    "rxcui": ("rxcui",),
    "prescriber_id": ("prescriber_id", "order_provider_id", "provider_id", "prscrbr_id"),
    "pharmacy_id": ("pharmacy_id", "srvc_prvdr_id"),
    "claim_status": ("claim_status",),
}


def _row_facts(row: dict[str, Any]) -> dict[str, Any]:
    """A quarantined row's fields from its raw text (JSON), as far as they can be read."""
    try:
        raw = json.loads(row.get("raw") or "{}")
    except ValueError:
        raw = {}
    lowered = {str(k).lower(): v for k, v in raw.items()} if isinstance(raw, dict) else {}

    def first(name: str) -> str | None:
        for key in ROW_KEYS[name]:
            value = lowered.get(key)
            if value not in (None, ""):
                return str(value).strip()
        return None

    ndc = first("ndc")
    return {
        "claim_id": first("claim_id"),
        "fill_date": _date(first("fill_date")),
        "days_supply": _integer(first("days_supply")),
        "end_date": _date(first("end_date")),
        "drug_name": first("drug_name"),
        "ndc": normalise_ndc(ndc) if ndc else None,
        "ndc_text": ndc,
        "rxcui": first("rxcui"),
        "prescriber_id": first("prescriber_id"),
        "pharmacy_id": first("pharmacy_id"),
        "claim_status": (first("claim_status") or "paid").lower(),
    }


def _date(text: str | None) -> date | None:
    if not text:
        return None
    from datetime import datetime

    for pattern, length in (("%Y-%m-%d", 10), ("%m/%d/%Y", 10), ("%Y%m%d", 8)):
        try:
            return datetime.strptime(text[:length], pattern).date()
        except ValueError:
            continue
    return None


def _integer(text: str | None) -> int | None:
    try:
        return int(float(text)) if text else None
    except ValueError:
        return None


def _shipped_codes(ruleset: RuleSet) -> tuple[dict, dict]:
    """The crosswalks shipped in rules/rxnorm/ as dicts: NDC -> [(ingredient, route)], RxCUI -> the same."""
    key = id(ruleset)
    if key not in _SHIPPED:
        ndcs: dict[str, list[tuple[str, str | None]]] = {}
        for ndc, ingredient, route, _ in shipped_ndc(ruleset).iter_rows():
            ndcs.setdefault(ndc, []).append((ingredient, route))
        rxcuis: dict[str, list[tuple[str, str | None]]] = {}
        for rxcui, ingredient, route, _, _ in shipped_rxcui(ruleset).iter_rows():
            rxcuis.setdefault(rxcui, []).append((ingredient, route))
        _SHIPPED.clear()
        _SHIPPED[key] = (ruleset, ndcs, rxcuis)
    return _SHIPPED[key][1], _SHIPPED[key][2]


_SHIPPED: dict[int, tuple[RuleSet, dict, dict]] = {}


def _map_row(row: dict[str, Any], ruleset: RuleSet, facts: Facts) -> list[dict[str, Any]]:
    """A quarantined row's drug mapped as a night would: its NDC (the imported crosswalk, else the shipped
    one), then its RxNorm code (the same, then an agent's ingredient code), then its name."""
    shipped_ndcs, shipped_rxcuis = _shipped_codes(ruleset)
    ndc = row["ndc"]
    if ndc and (found := facts.ndc_ingredients.get(ndc) or shipped_ndcs.get(ndc)):
        return [{"ingredient": i, "route": r, "mapped_by": "ndc"} for i, r in found]
    rxcui = row["rxcui"]
    if rxcui and (found := facts.rxcui_ingredients.get(rxcui) or shipped_rxcuis.get(rxcui)):
        return [{"ingredient": i, "route": r, "mapped_by": "rxcui"} for i, r in found]
    if rxcui and (ingredient := map_rxcui(rxcui, ruleset)):
        return [{"ingredient": ingredient, "route": None, "mapped_by": "rxcui"}]
    if row["drug_name"]:
        return [
            {"ingredient": i, "route": r, "mapped_by": "name"}
            for i, r in map_drug_name(row["drug_name"], ruleset)
        ]
    return []


# ---------------------------------------------------------------------------- words


def _fill_key(exposure: dict[str, Any]) -> str:
    """The fill a fill_exposure row belongs to: its claim's own (fill_key empty) or a combined one."""
    return exposure["fill_key"] or exposure["claim_id"]


def _days(n: int) -> str:
    return f"{n} day" if abs(n) == 1 else f"{n:,} days"


def _list(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _product(claim: dict[str, Any]) -> str:
    if claim.get("drug_name"):
        return f"'{claim['drug_name']}'"
    if claim.get("ndc"):
        return f"NDC {claim['ndc']}"
    if claim.get("rxcui"):
        return f"RxCUI {claim['rxcui']}"
    return "no drug"


def _mapped_words(mapped: list[dict[str, Any]], rule_ingredients: set[str]) -> str:
    by = {"ndc": "NDC crosswalk", "rxcui": "RxNorm code", "name": "name", "name_approx": "name"}
    parts = []
    for m in mapped:
        route = f" ({m['route']})" if m.get("route") else ""
        how = by.get(m["mapped_by"], m["mapped_by"])
        if m["mapped_by"] == "name_approx":
            how = f"name matched approximately (taken for '{m.get('likely_match') or m['ingredient']}')"
        outside = "" if m["ingredient"] in rule_ingredients else ", named by no active rule"
        parts.append(f"{m['ingredient']}{route} by {how}{outside}")
    return "; ".join(parts)


class _Book:
    """The bookkeeping of one explanation: the trace's tables indexed for the fates and verdicts."""

    def __init__(
        self,
        facts: Facts,
        ruleset: RuleSet,
        trace: Trace,
        rule_ingredients: set[str],
        claims: list[dict[str, Any]],
        mapping: dict[str, list[dict[str, Any]]],
    ) -> None:
        self.facts, self.ruleset, self.trace = facts, ruleset, trace
        self.rule_ingredients, self.claims, self.mapping = rule_ingredients, claims, mapping
        self.by_id = {c["claim_id"]: c for c in claims}
        t = trace.tables
        self.cancelled = {r["claim_id"] for r in t["cancelled_claims"]}
        self.exposure = {(r["claim_id"], r["ingredient"]): r for r in t["fill_exposure"]}
        self.members: dict[tuple[str, str], list[str]] = {}
        for r in t["fill_exposure"]:
            self.members.setdefault((_fill_key(r), r["ingredient"]), []).append(r["claim_id"])
        self.fills = {(r["fill_key"], r["ingredient"]): r for r in t["fills"]}
        self.stockpiled = {(r["fill_key"], r["ingredient"]): r for r in t["stockpiled_fills"]}
        self.in_episode = {(r["claim_id"], r["ingredient"]): r for r in t["episode_fills"]}
        # each claim's episode of each ingredient (an episode lists its claims)
        self.episode_of = {
            (claim_id, r["ingredient"]): r for r in t["episodes"] for claim_id in r["claim_ids"]
        }
        self.settings = facts.config.episodes
        # per ingredient: the fates behind it, for the verdicts
        self.accepted: dict[str, list[ClaimFate]] = {}
        self.quarantined: dict[str, list[ClaimFate]] = {}
        self.guessed: dict[str, list[tuple[ClaimFate, dict[str, Any]]]] = {}

    # ------------------------------------------------------------------ claims

    def claim_fate(self, c: dict[str, Any]) -> ClaimFate:
        mapped = self.mapping.get(c["claim_id"], [])
        ingredients = sorted({m["ingredient"] for m in mapped if m["ingredient"] in self.rule_ingredients})
        fate, words, guesses = self._fate(c, mapped, ingredients)
        mapping_words = (
            f"{_product(c)}: " + _mapped_words(mapped, self.rule_ingredients)
            if mapped
            else self._unmapped_words(c["drug_name"], c["ndc"], c["rxcui"], guesses)
        )
        result = ClaimFate(
            claim_id=c["claim_id"],
            source_file=c.get("source_file"),
            source_row=c.get("source_row"),
            loaded_night=c.get("loaded_night"),
            fill_date=c["fill_date"],
            days_supply=c["days_supply"],
            end_date=c["end_date"],
            drug=_product(c).strip("'"),
            prescriber_id=c["prescriber_id"],
            pharmacy_id=c["pharmacy_id"],
            claim_status=c["claim_status"],
            accepted=True,
            fate=fate,
            words=words,
            mapped=[
                {k: m.get(k) for k in ("ingredient", "route", "mapped_by", "likely_match")} for m in mapped
            ],
            mapping=mapping_words,
            ingredients=ingredients,
        )
        if c["claim_status"] != "reversed":
            for ingredient in ingredients:
                self.accepted.setdefault(ingredient, []).append(result)
        self._remember_guesses(result, guesses)
        return result

    def _remember_guesses(self, result: ClaimFate, guesses: list[dict[str, Any]]) -> None:
        """A row's likely rule ingredients (from its unmapped name), for the verdicts on those ingredients."""
        for guess in guesses:
            for ingredient in guess["ingredients"].split(";"):
                if ingredient in self.rule_ingredients:
                    self.guessed.setdefault(ingredient, []).append((result, guess))

    def _fate(
        self, c: dict[str, Any], mapped: list[dict[str, Any]], ingredients: list[str]
    ) -> tuple[str, str, list[dict[str, Any]]]:
        night = self.facts.night
        guesses = self.trace.nearest.get(c["drug_name"] or "", []) if not mapped else []
        if c["fill_date"] > night:
            return (
                "after_night",
                f"filled on {c['fill_date']}, after the night of {night}: not yet known then",
                guesses,
            )
        if c["claim_status"] == "reversed":
            target = (
                f"claim {c['original_claim_id']}"
                if c["original_claim_id"]
                else ("the paid claim with the same pharmacy, fill date, Rx reference and fill number")
            )
            return "reversal", f"a reversal of {target}: it covers no days itself", guesses
        if not mapped:
            return "not_mapped", "accepted, but its drug maps to no drug the rules know", guesses
        if not ingredients:
            names = _list(sorted({m["ingredient"] for m in mapped}))
            return (
                "not_in_rules",
                f"accepted; {names} is named by no active rule, so it is not followed",
                guesses,
            )
        if c["claim_id"] in self.cancelled:
            return "cancelled", self._cancelled_words(c), guesses
        prefix = (
            f"an adjustment replacing claim {c['original_claim_id']}; "
            if c["claim_status"] == "adjusted" and c["original_claim_id"]
            else ""
        )
        found = [self._ingredient_fate(c, ingredient) for ingredient in ingredients]
        order = list(FATES)
        fate = min((f for f, _ in found), key=order.index)
        words = "; ".join(w for _, w in found)
        return fate, prefix + words, guesses

    def _cancelled_words(self, c: dict[str, Any]) -> str:
        cancellers = [
            r
            for r in self.claims
            if r["claim_status"] in ("reversed", "adjusted") and r["original_claim_id"] == c["claim_id"]
        ]
        how = "it names this claim"
        if not cancellers:
            key = ("pharmacy_id", "fill_date", "rx_reference", "fill_number")
            cancellers = [
                r
                for r in self.claims
                if r["claim_status"] in ("reversed", "adjusted")
                and r["original_claim_id"] is None
                and r["rx_reference"] is not None
                and all(r[k] == c[k] for k in key)
            ]
            how = "same pharmacy, fill date, Rx reference and fill number"
        if not cancellers:
            return "cancelled by a reversal or an adjustment"
        kinds = _list(
            [
                f"{'reversal' if r['claim_status'] == 'reversed' else 'adjustment'} {r['claim_id']}"
                for r in cancellers
            ]
        )
        return f"cancelled by {kinds} ({how}): it covers no days"

    def _ingredient_fate(self, c: dict[str, Any], ingredient: str) -> tuple[str, str]:
        exposure = self.exposure.get((c["claim_id"], ingredient))
        if exposure is None:
            kept = self._duplicate_of(c, ingredient)
            return "duplicate", (
                f"{ingredient}: an exact duplicate of claim {kept} (same drug, dates, prescriber and pharmacy "
                "under another claim id): dropped, that claim kept"
                if kept
                else f"{ingredient}: an exact duplicate of another claim: dropped"
            )
        key = (_fill_key(exposure), ingredient)
        fill = self.fills.get(key)
        stock = self.stockpiled.get(key)
        statements: list[tuple[str, str]] = []
        together = sorted(set(self.members.get(key, [])) - {c["claim_id"]})
        if together and fill is not None:
            statements.append(
                (
                    "combined_same_day",
                    f"{ingredient}: combined with claim(s) {_list(together)} dispensed the same day "
                    f"(episodes.same_day = {self.settings.same_day}): one fill of {_days(fill['days_supply'])}, "
                    f"{fill['fill_date']} to {fill['exposure_end']}",
                )
            )
        early = self._early_days(key)
        if early and stock is not None and fill is not None:
            if stock["exposure_start"] > fill["fill_date"]:
                statements.append(
                    (
                        "early_refill_carried_over",
                        f"{ingredient}: refilled {_days(early)} before the supply on hand ran out; carried over "
                        f"(episodes.stockpiling = {self.settings.stockpiling}): counted from "
                        f"{stock['exposure_start']} to {stock['exposure_end']}",
                    )
                )
            else:
                # without stockpiling the carried-over end is computed with the episodes (episode_fills)
                runs_out = stock["supply_end"] or self.in_episode.get((c["claim_id"], ingredient), {}).get(
                    "supply_end"
                )
                statements.append(
                    (
                        "early_refill_truncated",
                        f"{ingredient}: refilled {_days(early)} before the supply on hand ran out; counted from "
                        f"its fill date (episodes.stockpiling = {self.settings.stockpiling}), so "
                        f"{_days(early)} of supply {'is' if early == 1 else 'are'} not carried forward; washouts "
                        f"still count {'it' if early == 1 else 'them'}"
                        + (f" (the patient runs out on {runs_out})" if runs_out else ""),
                    )
                )
        member = self.in_episode.get((c["claim_id"], ingredient))
        if member is None:
            statements.append(
                (
                    "short_episode",
                    f"{ingredient}: its episode is shorter than episodes.min_episode_days "
                    f"({self.settings.min_episode_days}): dropped",
                )
            )
        else:
            episode = self.episode_of.get((c["claim_id"], ingredient), {})
            ongoing = (
                f" ({ONGOING_ORDER}, at most episodes.ongoing_max_days = {self.settings.ongoing_max_days} days)"
                if exposure.get("ongoing")
                else ""
            )
            statements.append(
                (
                    "used",
                    f"{ingredient}: covers {exposure['exposure_start']} to {exposure['exposure_end']}{ongoing}, "
                    f"in the episode {episode.get('episode_start')} to {episode.get('episode_end')}",
                )
            )
        order = list(FATES)
        fate = min((code for code, _ in statements), key=order.index)
        return fate, "; ".join(words for _, words in statements)

    def _duplicate_of(self, c: dict[str, Any], ingredient: str) -> str | None:
        product = c["ndc"] or c["drug_name"] or c["rxcui"]
        for (claim_id, name), row in sorted(self.exposure.items()):
            other = self.by_id.get(claim_id, {})
            if (
                name == ingredient
                and claim_id != c["claim_id"]
                and row["exposure_start"] == c["fill_date"]
                and row["prescriber_id"] == c["prescriber_id"]
                and row["pharmacy_id"] == c["pharmacy_id"]
                and (other.get("ndc") or other.get("drug_name") or other.get("rxcui")) == product
            ):
                return claim_id
        return None

    def _early_days(self, key: tuple[str, str]) -> int:
        """How many days before the supply already on hand ran out this fill was dispensed (0: not early),
        from the fills of its ingredient in date order."""
        ingredient = key[1]
        ordered = sorted(
            (f for k, f in self.fills.items() if k[1] == ingredient),
            key=lambda f: (f["fill_date"], f["exposure_end"], f["fill_key"]),
        )
        covered: date | None = None
        for f in ordered:
            if (f["fill_key"], ingredient) == key:
                if covered is None or covered < f["fill_date"]:
                    return 0
                return (covered - f["fill_date"]).days + 1
            covered = f["exposure_end"] if covered is None else max(covered, f["exposure_end"])
        return 0

    def _unmapped_words(
        self, name: str | None, ndc: str | None, rxcui: str | None, guesses: list[dict[str, Any]]
    ) -> str:
        parts = []
        if ndc:
            parts.append(f"NDC {ndc} is not in the NDC crosswalk (serosurv reference import-ndc loads it)")
        if rxcui:
            parts.append(f"RxCUI {rxcui} is not the ingredient code of a rule drug")
        if name:
            parts.append(f"the name '{name}' names no drug the rules know")
        words = "; ".join(parts) or "no drug given"
        if guesses:
            near = _list(
                sorted(
                    {
                        f"'{g['word']}' is {g['distance']} letter(s) from '{g['matched_name']}' ({g['ingredients']})"
                        for g in guesses
                    }
                )
            )
            words += f"; it looks misspelt: {near}"
        return words

    def quarantine_fate(self, q: dict[str, Any], row: dict[str, Any]) -> ClaimFate:
        mapped = _map_row(row, self.ruleset, self.facts)
        ingredients = sorted({m["ingredient"] for m in mapped if m["ingredient"] in self.rule_ingredients})
        guesses = self.trace.nearest.get(row["drug_name"] or "", []) if not mapped else []
        claim = {"drug_name": row["drug_name"], "ndc": row["ndc_text"], "rxcui": row["rxcui"]}
        mapping_words = (
            f"{_product(claim)}: "
            + _mapped_words(mapped, self.rule_ingredients)
            + " (mapped for this explanation: "
            "the night does not map quarantined rows)"
            if mapped
            else self._unmapped_words(row["drug_name"], row["ndc_text"], row["rxcui"], guesses)
        )
        result = ClaimFate(
            claim_id=row["claim_id"],
            source_file=q["source_file"],
            source_row=q["source_row"],
            loaded_night=q["loaded_night"],
            fill_date=row["fill_date"],
            days_supply=row["days_supply"],
            end_date=row["end_date"],
            drug=_product(claim).strip("'"),
            prescriber_id=row["prescriber_id"],
            pharmacy_id=row["pharmacy_id"],
            claim_status=row["claim_status"],
            accepted=False,
            fate="quarantined",
            words=f"quarantined by the night of {q['loaded_night']} ({q['reason_code']}): {q['reason']}; "
            f"{q['source_file']} row {q['source_row']}",
            mapped=mapped,
            mapping=mapping_words,
            reason_code=q["reason_code"],
            ingredients=ingredients,
        )
        for ingredient in ingredients:
            self.quarantined.setdefault(ingredient, []).append(result)
        self._remember_guesses(result, guesses)
        return result

    # ------------------------------------------------------------------ verdicts

    def verdicts(
        self,
        fates: list[ClaimFate],
        episodes: list[EpisodeView],
        pair: tuple[list[str], list[str]] | None,
    ) -> list[Verdict]:
        self.by_ingredient: dict[str, list[EpisodeView]] = {}
        for episode in episodes:
            self.by_ingredient.setdefault(episode.ingredient, []).append(episode)
        known = sorted(
            {*self.accepted, *self.quarantined, *self.guessed, *self.by_ingredient} & self.rule_ingredients
        )
        if pair is None:
            pairs = {(a, b) for i, a in enumerate(known) for b in known[i + 1 :]}
        else:
            pairs = {tuple(sorted((a, b))) for a in pair[0] for b in pair[1] if a != b}
        found = (
            self.trace.tables["interactions"]
            if self.facts.mode == "as_of"
            else self.facts.stored_interactions
        )
        result = [
            self._verdict(a, b, [i for i in found if (i["ingredient_a"], i["ingredient_b"]) == (a, b)])
            for a, b in sorted(pairs)
        ]
        order = list(VERDICTS)
        return sorted(
            result,
            key=lambda v: (
                order.index(v.code),
                -SEVERITY_RANK.get(v.severity or "", 0),
                v.ingredient_a,
                v.ingredient_b,
            ),
        )

    def _verdict(self, a: str, b: str, found: list[dict[str, Any]]) -> Verdict:
        if found:
            return self._found(a, b, found)
        missing = [self._side(x) for x in (a, b) if x not in self.by_ingredient]
        if missing:
            order = ["name_not_recognised", "side_quarantined", "no_exposure", "no_claims"]
            code = min((m[0] for m in missing), key=order.index)
            return Verdict(
                a, b, code, " ".join(m[1] for m in missing), facts={"sides": [m[2] for m in missing]}
            )
        verdict = self._geometry(a, b)
        verdict.notes += self._side_notes(a) + self._side_notes(b)
        return verdict

    def _side(self, x: str) -> tuple[str, str, dict[str, Any]]:
        """Why ingredient `x` has no exposure: (verdict code, words, facts)."""
        night = self.facts.night
        accepted = self.accepted.get(x, [])
        if self.quarantined.get(x):
            rows = self.quarantined[x]
            listed = _list([f"{r.source_file} row {r.source_row} ({r.reason_code})" for r in rows[:5]])
            more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
            also = f" Its accepted claims: {self._fates_words(accepted)}." if accepted else ""
            return (
                "side_quarantined",
                f"No {x} was accepted up to {night}: its {len(rows)} row(s) were quarantined ({listed}{more}), so "
                f"{x} has no exposure.{also}",
                {
                    "ingredient": x,
                    "quarantined_rows": len(rows),
                    "reason_codes": sorted({r.reason_code for r in rows}),
                },
            )
        if self.guessed.get(x):
            found, guess = self.guessed[x][0]
            where = (
                f"claim {found.claim_id}" if found.accepted else f"{found.source_file} row {found.source_row}"
            )
            return (
                "name_not_recognised",
                f"No {x} is recognised: {where} names '{found.drug}', which maps to no drug; its word "
                f"'{guess['word']}' is {guess['distance']} letter(s) from '{guess['matched_name']}' ({x}). If it "
                f"is {x}, correct the feed or accept the name (serosurv rules add-synonym).",
                {
                    "ingredient": x,
                    "name": found.drug,
                    "nearest": guess["matched_name"],
                    "distance": guess["distance"],
                },
            )
        if accepted:
            return (
                "no_exposure",
                f"{x} has {len(accepted)} claim(s) but no exposure up to {night}: {self._fates_words(accepted)}.",
                {"ingredient": x, "claims": len(accepted), "fates": sorted({f.fate for f in accepted})},
            )
        return "no_claims", f"The patient has no claim of {x}.", {"ingredient": x}

    @staticmethod
    def _fates_words(fates: list[ClaimFate]) -> str:
        return "; ".join(f"claim {f.claim_id} {f.words}" for f in fates[:5]) + (
            f"; and {len(fates) - 5} more" if len(fates) > 5 else ""
        )

    def _side_notes(self, x: str) -> list[str]:
        notes = []
        if self.quarantined.get(x):
            rows = self.quarantined[x]
            notes.append(
                f"{len(rows)} row(s) of {x} were quarantined ({_list(sorted({r.reason_code or '' for r in rows}))}) "
                "and are not counted; accepted, they could change this answer."
            )
        if self.guessed.get(x):
            names = _list(sorted({f"'{f.drug}'" for f, _ in self.guessed[x]}))
            notes.append(
                f"{names} maps to no drug but looks like {x}; recognised, it could change this answer."
            )
        return notes

    def _rows(self, a: str, b: str) -> list[dict[str, Any]]:
        table = self.ruleset.pair_table()
        return table.filter((table["ingredient_a"] == a) & (table["ingredient_b"] == b)).to_dicts()

    @staticmethod
    def _winner(
        rows: list[dict[str, Any]], routes_a: list[str], routes_b: list[str]
    ) -> dict[str, Any] | None:
        """The rule the engine applies to two episodes (sql/marts/interactions.sql): a row whose routes the
        episodes have (or that names none), the most severe first."""
        fitting = [
            r
            for r in rows
            if (r["route_a"] is None or r["route_a"] in routes_a)
            and (r["route_b"] is None or r["route_b"] in routes_b)
        ]
        return min(fitting, key=lambda r: (-r["severity_rank"], r["rule_id"])) if fitting else None

    def _geometry(self, a: str, b: str) -> Verdict:
        rows = self._rows(a, b)
        if not rows:
            sets = ", ".join(self.ruleset.rule_set_names)
            return Verdict(a, b, "no_rule", f"No rule of the active rule sets ({sets}) covers {a} + {b}.")
        episodes_a, episodes_b = self.by_ingredient[a], self.by_ingredient[b]
        expected, short, gaps = [], [], []
        for ea in episodes_a:
            for eb in episodes_b:
                rule = self._winner(rows, ea.routes, eb.routes)
                if rule is None:
                    continue
                overlap = (min(ea.end, eb.end) - max(ea.start, eb.start)).days + 1
                minimum = max(rule["min_overlap_days"] or 1, 1)
                if overlap >= minimum:
                    expected.append((ea, eb, rule))
                elif overlap > 0:
                    short.append((overlap, minimum, max(ea.start, eb.start), rule))
                elif eb.start > ea.end:
                    gaps.append(self._gap(a, b, ea, eb, rule["washout_a_then_b"], rule))
                else:
                    gaps.append(self._gap(b, a, eb, ea, rule["washout_b_then_a"], rule))
        if not (expected or short or gaps):
            covered = _list(
                sorted(
                    {
                        f"{r['rule_id']} ({r['route_a'] or 'any route'} {a}, {r['route_b'] or 'any route'} {b})"
                        for r in rows
                    }
                )
            )
            routes = _list(
                sorted(
                    {
                        f"{e.ingredient} {', '.join(e.routes) or 'route unknown'}"
                        for e in episodes_a + episodes_b
                    }
                )
            )
            return Verdict(
                a,
                b,
                "route_not_covered",
                f"The rules cover {a} + {b} only by other routes: {covered}; the fills here are {routes}.",
                rule_id=rows[0]["rule_id"],
                severity=rows[0]["severity"],
            )
        expected += [(g["first_episode"], g["second_episode"], g["rule"]) for g in gaps if g["within"]]
        if expected:
            return self._not_found(a, b, expected)
        if short:
            overlap, minimum, day, rule = max(short, key=lambda s: s[0])
            return Verdict(
                a,
                b,
                "overlap_below_minimum",
                f"{a} and {b} were covered together on at most {_days(overlap)} (from {day}); rule {rule['rule_id']} "
                f"({rule['severity']}) counts an overlap of at least {_days(minimum)}.",
                rule_id=rule["rule_id"],
                severity=rule["severity"],
                facts={"longest_overlap_days": overlap, "min_overlap_days": minimum},
            )
        with_washout = [g for g in gaps if g["washout"] is not None]
        if with_washout:
            g = min(with_washout, key=lambda g: (g["gap"] - g["washout"], g["gap"]))
            rule = g["rule"]
            return Verdict(
                a,
                b,
                "beyond_washout",
                f"{g['second']} started on {g['second_episode'].start}, {_days(g['gap'])} after {g['first']} ran out "
                f"on {g['first_episode'].supply_end} (taking every dispensed dose); rule {rule['rule_id']} "
                f"({rule['severity']}) sets a washout of {_days(g['washout'])} from {g['first']} to {g['second']}, "
                f"so this start is {_days(g['gap'] - g['washout'])} outside it.",
                rule_id=rule["rule_id"],
                severity=rule["severity"],
                facts={
                    "gap_days": g["gap"],
                    "washout_days": g["washout"],
                    "first": g["first"],
                    "second": g["second"],
                },
            )
        g = min(gaps, key=lambda g: g["apart"])
        rule = g["rule"]
        return Verdict(
            a,
            b,
            "no_overlap",
            f"{a} and {b} were never covered on the same day (closest: {g['first']} ended {g['first_episode'].end}, "
            f"{g['second']} started {g['second_episode'].start}, {_days(g['apart'])} later); rule {rule['rule_id']} "
            f"({rule['severity']}) sets no washout from {g['first']} to {g['second']}, so only overlapping supply counts.",
            rule_id=rule["rule_id"],
            severity=rule["severity"],
            facts={"days_apart": g["apart"], "first": g["first"], "second": g["second"]},
        )

    @staticmethod
    def _gap(
        first: str, second: str, e1: EpisodeView, e2: EpisodeView, washout: int | None, rule: dict[str, Any]
    ) -> dict[str, Any]:
        gap = (e2.start - (e1.supply_end or e1.end)).days
        return {
            "first": first,
            "second": second,
            "first_episode": e1,
            "second_episode": e2,
            "gap": gap,
            "apart": (e2.start - e1.end).days,
            "washout": washout,
            "within": washout is not None and gap <= washout,
            "rule": rule,
        }

    def _not_found(
        self, a: str, b: str, expected: list[tuple[EpisodeView, EpisodeView, dict[str, Any]]]
    ) -> Verdict:
        """Episodes that meet a rule but no interaction: a combination product alone never interacts with
        itself (sql/marts/interactions.sql)."""
        ea, eb, rule = expected[0]
        claims = set(ea.claim_ids) | set(eb.claim_ids)
        products = {cid: {m["ingredient"] for m in self.mapping.get(cid, [])} for cid in claims}
        if claims and all({a, b} <= held for held in products.values()):
            names = _list(
                sorted({f"'{_product(self.by_id[c]).strip(chr(39))}'" for c in claims if c in self.by_id})
            )
            return Verdict(
                a,
                b,
                "combination_product",
                f"Every fill of {a} and {b} is one combination product holding both ({names}): a product never "
                "interacts with itself. A second product holding either ingredient would make it one.",
                rule_id=rule["rule_id"],
                severity=rule["severity"],
            )
        return Verdict(
            a,
            b,
            "unexplained",
            f"The episodes of {a} and {b} meet rule {rule['rule_id']}, but the engine found no interaction; this "
            "is unexpected: please report it with this explanation.",
            rule_id=rule["rule_id"],
            severity=rule["severity"],
        )

    def _found(self, a: str, b: str, found: list[dict[str, Any]]) -> Verdict:
        night, lookback = self.facts.night, self.facts.config.alerts.lookback_days
        found = sorted(found, key=lambda i: (i["first_overlap_date"], i["kind"]))
        current = [
            i
            for i in found
            if (i["last_overlap_date"] or i["first_overlap_date"]) >= night - timedelta(days=lookback)
            and i["first_overlap_date"] <= night
        ]
        top = max(found, key=lambda i: (i["severity_rank"] or 0, i["last_overlap_date"]))
        base = {
            "rule_id": top["rule_id"],
            "severity": top["severity"],
            "interactions": [_interaction(i) | {"washout_days": self._washout_of(i)} for i in found],
        }
        what = " ".join(_interaction_words(i) for i in found)
        pair_history = [h for h in self.facts.history if (h["ingredient_a"], h["ingredient_b"]) == (a, b)]
        if current:
            ids = {i["interaction_id"] for i in current}
            tonight = [h for h in pair_history if h["as_of"] == night]
            alert = next((h for h in tonight if ids & set(h["interaction_ids"] or [])), None) or next(
                (h for h in tonight if h["status"] != "resolved"), None
            )
            if alert is not None:
                return Verdict(a, b, "alerted", f"{what} {_alert_words(alert)}", alert=_alert(alert), **base)
            ran = (
                "no night's alert states were recorded on that date"
                if not any(h["as_of"] == night for h in self.facts.history) or self.facts.mode == "as_of"
                else "no alert of that night lists it"
            )
            return Verdict(
                a,
                b,
                "interaction_found",
                f"{what} It is current on the night of {night} (its last day is within the {lookback}-day lookback), "
                f"but {ran}.",
                **base,
            )
        last = max(i["last_overlap_date"] or i["first_overlap_date"] for i in found)
        earlier = self._earlier_alerts(found, pair_history)
        return Verdict(
            a,
            b,
            "outside_lookback",
            f"{what} Its last day, {last}, is {_days((night - last).days)} before the night of {night}; the "
            f"worklist shows interactions whose last day is within alerts.lookback_days ({lookback}), so it is not on "
            f"that night's worklist. {earlier}",
            facts={"last_day": last, "days_before_night": (night - last).days, "lookback_days": lookback},
            **base,
        )

    def _washout_of(self, i: dict[str, Any]) -> int | None:
        """The washout days of a washout interaction's rule in its direction (None for overlaps)."""
        if i["kind"] != "washout":
            return None
        column = "washout_b_then_a" if i["initiation_order"] == "b_first" else "washout_a_then_b"
        days = [
            r[column]
            for r in self._rows(i["ingredient_a"], i["ingredient_b"])
            if r["rule_id"] == i["rule_id"]
        ]
        days = [d for d in days if d is not None]
        return max(days) if days else None

    @staticmethod
    def _earlier_alerts(found: list[dict[str, Any]], history: list[dict[str, Any]]) -> str:
        ids = {i["interaction_id"] for i in found}
        first = min(i["first_overlap_date"] for i in found)
        last = max(i["last_overlap_date"] or i["first_overlap_date"] for i in found)
        seen: dict[str, dict[str, Any]] = {}
        for h in history:
            window = (
                h["first_overlap_date"] <= last
                and (h["last_overlap_date"] or h["first_overlap_date"]) >= first
            )
            if ids & set(h["interaction_ids"] or []) or window:
                seen[h["alert_id"]] = h  # history is in night order: the latest state wins
        if not seen:
            return "It was never on a worklist (no night this warehouse ran saw it current)."
        return (
            "It was "
            + _list(
                [f"alert {h['alert_id']} ({h['status']} on the night of {h['as_of']})" for h in seen.values()]
            )
            + "."
        )

    # ------------------------------------------------------------------ cross-check

    def cross_check(self) -> list[str]:
        """In the default mode: whether the replay gives the interactions the night stored."""
        if self.facts.mode != "night":
            return []
        fields = (
            "interaction_id",
            "kind",
            "rule_id",
            "first_overlap_date",
            "last_overlap_date",
            "overlap_days",
            "washout_gap_days",
        )
        stored = {tuple(i[f] for f in fields) for i in self.facts.stored_interactions}
        replayed = {tuple(i[f] for f in fields) for i in self.trace.tables["interactions"]}
        if stored == replayed:
            return []
        return [
            f"Replaying the engine on this patient's claims gives {len(replayed)} interaction(s) where the night "
            f"stored {len(stored)} ({len(replayed - stored)} differ): the rules or settings changed since the night, "
            "or its claims did. Found interactions below are the night's; the reasons for the others come from "
            "the replay."
        ]


def _interaction(i: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "interaction_id",
        "ingredient_a",
        "ingredient_b",
        "kind",
        "rule_id",
        "severity",
        "first_overlap_date",
        "last_overlap_date",
        "overlap_days",
        "longest_overlap_days",
        "washout_gap_days",
        "initiation_order",
        "cross_prescriber",
        "cross_pharmacy",
        "prescriber_ids_a",
        "prescriber_ids_b",
        "pharmacy_ids_a",
        "pharmacy_ids_b",
        "claim_ids_a",
        "claim_ids_b",
    )
    return {k: i.get(k) for k in keys}


def _interaction_words(i: dict[str, Any]) -> str:
    a, b = i["ingredient_a"], i["ingredient_b"]
    if i["kind"] == "washout":
        first, second = (a, b) if i["initiation_order"] != "b_first" else (b, a)
        gap = i["washout_gap_days"]
        when = (
            f"{_days(gap)} after {first} ran out (taking every dispensed dose)"
            if gap is not None and gap > 0
            else f"while {first} dispensed early was still on hand"
        )
        what = f"Washout interaction ({i['severity']}, rule {i['rule_id']}): {second} started on {i['first_overlap_date']}, {when}"
    else:
        what = (
            f"Overlap ({i['severity']}, rule {i['rule_id']}): {a} and {b} covered together on "
            f"{_days(i['overlap_days'])} from {i['first_overlap_date']} to {i['last_overlap_date']}"
        )
    return f"{what}; {_fragmentation_words(i)}."


def _fragmentation_words(i: dict[str, Any]) -> str:
    prescribers = {
        True: "different prescribers",
        False: "one prescriber wrote both",
        None: "a prescriber is unknown",
    }
    pharmacies = {
        True: "different pharmacies",
        False: "one pharmacy filled both",
        None: "a pharmacy is unknown",
    }
    return f"{prescribers[i['cross_prescriber']]}, {pharmacies[i['cross_pharmacy']]}"


def _alert(h: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "alert_id",
        "as_of",
        "status",
        "status_reasons",
        "severity",
        "priority",
        "priority_parts",
        "opened_on",
        "quiet",
        "last_action",
        "last_result",
        "last_action_at",
        "snooze_until",
        "clinical_significance",
        "other_prescriber_indicator",
        "other_pharmacy_indicator",
        "reason_for_service",
    )
    return {k: h.get(k) for k in keys}


def _alert_words(h: dict[str, Any]) -> str:
    from serosurv.core.vocabularies import PRIORITY_PARTS

    parts = h.get("priority_parts") or {}
    spelled = " ".join(f"{words} {parts[key]:+g}" for key, words, _ in PRIORITY_PARTS if parts.get(key))
    status = h["status"] + (
        f" ({', '.join(r.replace('_', ' ') for r in h['status_reasons'])})" if h.get("status_reasons") else ""
    )
    quiet = (
        "; acted on since it last changed, so quiet (off the worklist) until it changes"
        if h.get("quiet")
        else ""
    )
    return (
        f"On the night's worklist as alert {h['alert_id']}: {status} on the night of {h['as_of']}, opened "
        f"{h['opened_on']}; priority {h['priority'] or 0:.1f} = {spelled or 'no parts'}{quiet}."
    )
