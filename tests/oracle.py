"""An independent, deliberately simple day-by-day model of the episode and interaction engine.

It shares no code with the engine (no SQL, no imports from `serosurv` or `transforms`): claims are
plain dicts, days are `datetime.date`s and every rule is written out as a loop over days or claims.
It exists to be compared with `transforms.engine` (see tests/test_engine_oracle.py).

Input claim dicts carry: claim_id, patient_id, fill_date, days_supply, end_date, ingredient, route,
prescriber_id, pharmacy_id, claim_status ('paid', 'reversed' or 'adjusted'), rx_reference,
fill_number, original_claim_id, and optionally ndc (the product; the engine falls back to drug_name,
then rxcui) and `ingredients`, a list of (ingredient, route) for combination products that replaces
ingredient/route.

The rules modelled (docs/design.md, the comments of the SQL in sql/intermediate and sql/marts):

1. Claims dated after `as_of` do not exist. A reversal or adjustment cancels the claim it names in
   original_claim_id; one without a name cancels one *paid* claim with the same patient, pharmacy,
   fill date, Rx reference and fill number (not already cancelled by name), lowest claim id first,
   one claim per reversal or adjustment. Paid and adjusted claims that are not cancelled are active.
2. An active claim gives one fill per ingredient that appears in a rule. It covers the days
   fill_date .. fill_date + days_supply - 1 (inclusive), or fill_date .. end_date when an end date
   is given. An ongoing claim (`ongoing` true, neither end date nor days supply) covers the days from
   fill_date on, one at a time, while the day is not after as_of and fewer than ongoing_max_days days are
   covered; its supply is the number of days it covers. Exact duplicates (same patient, ingredient, route, product, start, end, prescriber and
   pharmacy; unknown equals unknown) keep only the lowest claim id.
3. Episodes, per patient and ingredient: walk the days from the first covered day to the last; a run
   of uncovered days between two covered days is bridged when its length is at most the grace, the
   larger of grace_days and floor(previous supply * grace_percent / 100), "previous" being the fill
   just before the first fill that starts after the run, in (start, end, claim_id) order. An
   episode runs from its first covered day to its last covered day; episodes shorter than
   min_episode_days are dropped. The extension: every maximal run of covered days is first followed
   by extension_days more covered days (so extended episodes of one ingredient never overlap).
4. Day ownership: inside an episode with fills f1..fn in (start, end, claim_id) order, fill fi owns
   the days fi.start .. max(fi.end, f(i+1).start - 1) + extension_days (the last fill: fn.start ..
   fn.end + extension_days). That is how each episode day is traced to the fills, prescribers and
   pharmacies behind it (the engine's `owned_end`, with the extension added to every fill). Only
   fills of kept episodes own days.
5. Interactions, per patient and rule pair (a, b), a < b alphabetically:
   - overlap: the days on which both a and b are inside one of their (kept) episodes; maximal runs
     of such days shorter than the rule's min_overlap_days (at least 1) are ignored; runs whose gap
     (uncovered days between them) is at most merge_gap_days form one interaction. overlap_days is
     the number of days in the interaction's runs, longest_overlap_days the longest run.
   - washout: an episode of b starting after the last day of an episode of a, k days after a's
     supply end, with k <= washout_a_then_b (and symmetrically with washout_b_then_a), is a washout
     event on the day b starts. The supply end is where the patient would run out taking one dose a
     day of everything dispensed up to the episode's last fill (a stock of days, refilled on each fill
     date and used up one a day), plus extension_days: an early refill never shortens a washout, so k
     is 0 or less when b starts while that stock lasts. Events whose days are at most merge_gap_days
     apart form one interaction; washout_gap_days is the smallest k; overlap_days and
     longest_overlap_days are 0.
   - The days of each side of an interaction: for an overlap, the overlap days; for a washout
     event, the last day of the ending episode (that side) and the first day of the starting one
     (the other side). Each side's fills are the fills of that ingredient owning one of its days.
     cross_prescriber is None when either side has no known prescriber, else True when the two
     sides' known prescribers have none in common; cross_pharmacy likewise.
   - A combination product never interacts with itself: an interaction whose fills on both sides all
     come from claims that hold both a and b (one product) is dropped.
   - initiation_order: for overlaps, which of the two episodes that contain the interaction's first
     day started first ('a_first', 'b_first', 'same_day'); for washouts, which drug ended first.
     None when the first day is ambiguous (several episodes or events disagree).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Params:
    grace_days: int = 7
    grace_percent: float = 0.0
    extension_days: int = 0
    min_episode_days: int = 1
    merge_gap_days: int = 30
    ongoing_max_days: int = 90


@dataclass(frozen=True)
class Rule:
    rule_id: str
    severity: str
    severity_rank: int
    washout_a_then_b: int | None = None
    washout_b_then_a: int | None = None
    min_overlap_days: int | None = None


@dataclass(eq=False)  # compared and hashed by identity
class Fill:
    claim_id: str
    patient_id: str
    ingredient: str
    route: str | None
    start: date
    end: date
    supply: int
    prescriber_id: str | None
    pharmacy_id: str | None
    owned_end: date | None = None
    claim_ingredients: frozenset[str] = (
        frozenset()
    )  # every ingredient of the claim (combination products)  # set once the fill belongs to a kept episode (extension included)


@dataclass
class Episode:
    patient_id: str
    ingredient: str
    start: date
    end: date  # extension included
    fills: list[Fill] = field(default_factory=list)
    supply_end: date | None = None  # where washouts are measured from (extension included)

    @property
    def claim_ids(self) -> list[str]:
        return sorted({f.claim_id for f in self.fills})


@dataclass
class Result:
    active_claim_ids: list[str]
    fills: list[Fill]
    duplicate_fills_dropped: int
    episodes: list[Episode]
    interactions: list[dict]


def days_between(first: date, last: date) -> list[date]:
    """Every day from first to last, both included."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# 1. Reversals and adjustments ------------------------------------------------------------------
def active_claims(claims: list[dict], as_of: date) -> list[dict]:
    dated = [c for c in claims if c["fill_date"] <= as_of]
    # A claim is (patient_id, claim_id): original_claim_id names a claim of the same patient only.
    cancelled: set[tuple[str, str]] = set()
    for c in dated:
        if c["claim_status"] in ("reversed", "adjusted") and c.get("original_claim_id") is not None:
            cancelled.add((c["patient_id"], c["original_claim_id"]))
    named = set(cancelled)

    def key(c: dict) -> tuple:
        return (
            c["patient_id"],
            c.get("pharmacy_id"),
            c["fill_date"],
            c.get("rx_reference"),
            c.get("fill_number"),
        )

    cancellers_per_key: dict[tuple, int] = defaultdict(int)
    for c in dated:
        if (
            c["claim_status"] in ("reversed", "adjusted")
            and c.get("original_claim_id") is None
            and c.get("rx_reference") is not None
        ):
            cancellers_per_key[key(c)] += 1
    for k, n in cancellers_per_key.items():
        candidates = sorted(
            (c["patient_id"], c["claim_id"])
            for c in dated
            if c["claim_status"] == "paid"
            and c.get("rx_reference") is not None
            and (c["patient_id"], c["claim_id"]) not in named
            and key(c) == k
        )
        cancelled.update(candidates[:n])
    return [
        c
        for c in dated
        if c["claim_status"] in ("paid", "adjusted") and (c["patient_id"], c["claim_id"]) not in cancelled
    ]


# 2. Fills ----------------------------------------------------------------------------------------
def ongoing_last_day(start: date, as_of: date, max_days: int) -> date:
    """The last day an ongoing order covers: walk from its start while the next day is on or before the
    night and the order has covered fewer than max_days days."""
    last, covered = start, 1
    while last + timedelta(days=1) <= as_of and covered < max_days:
        last += timedelta(days=1)
        covered += 1
    return last


def claim_fills(
    claims: list[dict], rule_ingredients: set[str], as_of: date, params: Params
) -> tuple[list[Fill], int]:
    """Fills of rule ingredients, exact duplicates removed; also returns how many were dropped."""
    kept: dict[tuple, Fill] = {}
    n = 0
    for c in sorted(claims, key=lambda c: c["claim_id"]):
        ingredients = c.get("ingredients") or [(c["ingredient"], c.get("route"))]
        for ingredient, route in ingredients:
            if ingredient not in rule_ingredients:
                continue
            n += 1
            start = c["fill_date"]
            if c.get("end_date") is not None:
                end = c["end_date"]
            elif c.get("ongoing") and c.get("days_supply") is None:
                end = ongoing_last_day(start, as_of, params.ongoing_max_days)
            else:
                end = start + timedelta(days=c["days_supply"] - 1)
            supply = c["days_supply"] if c.get("days_supply") is not None else (end - start).days + 1
            product = next((c.get(k) for k in ("ndc", "drug_name", "rxcui") if c.get(k) is not None), None)
            dup_key = (
                c["patient_id"],
                ingredient,
                route,
                product,
                start,
                end,
                c.get("prescriber_id"),
                c.get("pharmacy_id"),
            )
            if dup_key in kept:
                continue
            kept[dup_key] = Fill(
                c["claim_id"],
                c["patient_id"],
                ingredient,
                route,
                start,
                end,
                supply,
                c.get("prescriber_id"),
                c.get("pharmacy_id"),
                claim_ingredients=frozenset(name for name, _ in ingredients),
            )
    fills = list(kept.values())
    return fills, n - len(fills)


# 3. Episodes -------------------------------------------------------------------------------------
def fill_order(f: Fill) -> tuple:
    return (f.start, f.end, f.claim_id)


def episodes_of(fills: list[Fill], params: Params) -> list[Episode]:
    """Episodes of one patient and ingredient, walking day by day."""
    fills = sorted(fills, key=fill_order)
    covered: set[date] = set()
    for f in fills:
        covered.update(days_between(f.start, f.end))
    # The extension follows every run of covered days, before the grace is applied, so that the
    # extended episodes of one ingredient never overlap.
    for run in runs_of(set(covered)):
        covered.update(days_between(run[-1] + ONE_DAY, run[-1] + timedelta(days=params.extension_days)))
    starting_on: dict[date, list[Fill]] = defaultdict(list)
    for f in fills:
        starting_on[f.start].append(f)

    groups: list[list[date]] = []  # covered days of each episode
    uncovered_run = 0
    for day in days_between(min(covered), max(covered)):
        if day not in covered:
            uncovered_run += 1
            continue
        if not groups:
            groups.append([day])
        elif uncovered_run == 0:
            groups[-1].append(day)
        else:
            first_fill_after = starting_on[day][0]  # a run of uncovered days always ends with a fill start
            previous = fills[fills.index(first_fill_after) - 1]
            grace = max(params.grace_days, math.floor(previous.supply * params.grace_percent / 100))
            if uncovered_run <= grace:
                groups[-1].append(day)
            else:
                groups.append([day])
        uncovered_run = 0

    episodes = []
    for days in groups:
        first, last = days[0], days[-1]
        members = [f for f in fills if first <= f.start <= last]
        episode = Episode(
            fills[0].patient_id,
            fills[0].ingredient,
            first,
            last,
            members,
        )
        if (episode.end - episode.start).days + 1 >= params.min_episode_days:
            episodes.append(episode)
    return episodes


def stock_run_out_days(fills: list[Fill]) -> dict[int, date]:
    """For each fill (by id()), the last day covered when the patient takes one day's supply a day from
    a stock that every fill up to and including it adds its days to, on its own fill date."""
    fills = sorted(fills, key=fill_order)
    out: dict[int, date] = {}
    for i, f in enumerate(fills):
        stock, last, j, day = 0, None, 0, fills[0].start
        while j <= i or stock > 0:
            while j <= i and fills[j].start == day:
                stock += (fills[j].end - fills[j].start).days + 1
                j += 1
            if stock > 0:
                stock -= 1
                last = day
            day += ONE_DAY
        out[id(f)] = last
    return out


def assign_ownership(episode: Episode, extension_days: int) -> None:
    members = sorted(episode.fills, key=fill_order)
    for i, f in enumerate(members):
        owned = f.end
        if i + 1 < len(members):
            owned = max(f.end, members[i + 1].start - ONE_DAY)
        f.owned_end = owned + timedelta(days=extension_days)


# 5. Interactions ---------------------------------------------------------------------------------
def runs_of(days: set[date]) -> list[list[date]]:
    """Maximal runs of consecutive days."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and day - runs[-1][-1] == ONE_DAY:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def cluster(items: list, first_day, last_day, merge_gap_days: int) -> list[list]:
    """Group items (sorted by first day) whose gap to everything before is at most merge_gap_days."""
    groups: list[list] = []
    reach: date | None = None
    for item in sorted(items, key=lambda x: (first_day(x), last_day(x))):
        if reach is not None and (first_day(item) - reach).days - 1 <= merge_gap_days:
            groups[-1].append(item)
        else:
            groups.append([item])
        reach = last_day(item) if reach is None else max(reach, last_day(item))
    return groups


def order_of(start_a: date, start_b: date) -> str:
    return "a_first" if start_a < start_b else "b_first" if start_b < start_a else "same_day"


def side_flags(fills_a: set, fills_b: set) -> tuple[bool | None, bool | None]:
    out = []
    for attr in ("prescriber_id", "pharmacy_id"):
        known_a = {getattr(f, attr) for f in fills_a} - {None}
        known_b = {getattr(f, attr) for f in fills_b} - {None}
        out.append(None if not known_a or not known_b else not (known_a & known_b))
    return out[0], out[1]


def interactions_of(
    patient_id: str, a: str, b: str, rule: Rule, episodes: dict[str, list[Episode]], params: Params
) -> list[dict]:
    eps_a, eps_b = episodes.get(a, []), episodes.get(b, [])
    fills_a = [f for e in eps_a for f in e.fills]
    fills_b = [f for e in eps_b for f in e.fills]

    def owners(fills: list[Fill], days: set[date]) -> set[Fill]:
        return {f for f in fills for d in days if f.start <= d <= f.owned_end}

    def one_product(side_a: set[Fill], side_b: set[Fill]) -> bool:
        return all({a, b} <= f.claim_ingredients for f in side_a | side_b)

    def base(kind: str) -> dict:
        return {
            "patient_id": patient_id,
            "ingredient_a": a,
            "ingredient_b": b,
            "rule_id": rule.rule_id,
            "severity": rule.severity,
            "severity_rank": rule.severity_rank,
            "kind": kind,
        }

    out = []
    # overlap
    days_a = {d for e in eps_a for d in days_between(e.start, e.end)}
    days_b = {d for e in eps_b for d in days_between(e.start, e.end)}
    minimum = max(rule.min_overlap_days or 1, 1)
    runs = [r for r in runs_of(days_a & days_b) if len(r) >= minimum]
    for group in cluster(runs, lambda r: r[0], lambda r: r[-1], params.merge_gap_days):
        days = {d for r in group for d in r}
        first = group[0][0]
        orders = {
            order_of(ea.start, eb.start)
            for ea in eps_a
            for eb in eps_b
            if ea.start <= first <= ea.end and eb.start <= first <= eb.end
        }
        side_a = owners(fills_a, days)
        side_b = owners(fills_b, days)
        if one_product(side_a, side_b):
            continue
        cross_prescriber, cross_pharmacy = side_flags(side_a, side_b)
        out.append(
            base("overlap")
            | {
                "first_overlap_date": first,
                "last_overlap_date": max(r[-1] for r in group),
                "overlap_days": len(days),
                "longest_overlap_days": max(len(r) for r in group),
                "washout_gap_days": None,
                "initiation_order": orders.pop() if len(orders) == 1 else None,
                "cross_prescriber": cross_prescriber,
                "cross_pharmacy": cross_pharmacy,
                "claim_ids_a": sorted(f.claim_id for f in side_a),
                "claim_ids_b": sorted(f.claim_id for f in side_b),
            }
        )

    # washout: (day the second drug starts, k, day of side a, day of side b, initiation order)
    events = []
    for ea in eps_a:
        for eb in eps_b:
            k = (eb.start - ea.supply_end).days
            if rule.washout_a_then_b is not None and eb.start > ea.end and k <= rule.washout_a_then_b:
                events.append((eb.start, k, ea.end, eb.start, "a_first"))
            k = (ea.start - eb.supply_end).days
            if rule.washout_b_then_a is not None and ea.start > eb.end and k <= rule.washout_b_then_a:
                events.append((ea.start, k, ea.start, eb.end, "b_first"))
    for group in cluster(events, lambda e: e[0], lambda e: e[0], params.merge_gap_days):
        first = min(e[0] for e in group)
        orders = {e[4] for e in group if e[0] == first}
        side_a = owners(fills_a, {e[2] for e in group})
        side_b = owners(fills_b, {e[3] for e in group})
        if one_product(side_a, side_b):
            continue
        cross_prescriber, cross_pharmacy = side_flags(side_a, side_b)
        out.append(
            base("washout")
            | {
                "first_overlap_date": first,
                "last_overlap_date": max(e[0] for e in group),
                "overlap_days": 0,
                "longest_overlap_days": 0,
                "washout_gap_days": min(e[1] for e in group),
                "initiation_order": orders.pop() if len(orders) == 1 else None,
                "cross_prescriber": cross_prescriber,
                "cross_pharmacy": cross_pharmacy,
                "claim_ids_a": sorted(f.claim_id for f in side_a),
                "claim_ids_b": sorted(f.claim_id for f in side_b),
            }
        )
    return out


# Everything --------------------------------------------------------------------------------------
def run(claims: list[dict], rules: dict[tuple[str, str], Rule], params: Params, as_of: date) -> Result:
    """Claims to episodes and interactions, as the engine should compute them."""
    rule_ingredients = {ingredient for pair in rules for ingredient in pair}
    active = active_claims(claims, as_of)
    fills, dropped = claim_fills(active, rule_ingredients, as_of, params)

    by_patient_ingredient: dict[tuple[str, str], list[Fill]] = defaultdict(list)
    for f in fills:
        by_patient_ingredient[(f.patient_id, f.ingredient)].append(f)
    episodes: list[Episode] = []
    for key in sorted(by_patient_ingredient):
        run_out = stock_run_out_days(by_patient_ingredient[key])
        for episode in episodes_of(by_patient_ingredient[key], params):
            last = max(run_out[id(f)] for f in episode.fills)
            episode.supply_end = last + timedelta(days=params.extension_days)
            episodes.append(episode)
    for e in episodes:
        assign_ownership(e, params.extension_days)

    per_patient: dict[str, dict[str, list[Episode]]] = defaultdict(lambda: defaultdict(list))
    for e in episodes:
        per_patient[e.patient_id][e.ingredient].append(e)
    interactions = []
    for patient_id in sorted(per_patient):
        for (a, b), rule in sorted(rules.items()):
            interactions.extend(interactions_of(patient_id, a, b, rule, per_patient[patient_id], params))
    return Result(sorted(c["claim_id"] for c in active), fills, dropped, episodes, interactions)
