"""Hand-written edge cases of the episode and interaction engine, with exact expected rows.

Days are numbered from day 1 = 2024-01-01. Every case is checked against the engine and against the
day-by-day oracle (tests/oracle.py).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests import oracle
from tests.oracle import Params
from tests.test_engine_oracle import RULES, run_engine

AS_OF = date(2024, 12, 31)


def day(n: int) -> date:
    return date(2024, 1, 1) + timedelta(days=n - 1)


def number(d: date) -> int:
    return (d - date(2024, 1, 1)).days + 1


def claim(
    claim_id: str,
    ingredient: str,
    first_day: int,
    supply: int = 30,
    *,
    patient: str = "P1",
    prescriber: str | None = "DR1",
    pharmacy: str | None = "PH1",
    status: str = "paid",
    rx: str | None = None,
    fill_number: int | None = 0,
    original: str | None = None,
) -> dict:
    return {
        "claim_id": claim_id,
        "patient_id": patient,
        "fill_date": day(first_day),
        "days_supply": supply,
        "end_date": None,
        "ingredient": ingredient,
        "route": "oral",
        "ndc": f"NDC-{ingredient}",
        "prescriber_id": prescriber,
        "pharmacy_id": pharmacy,
        "claim_status": status,
        "rx_reference": rx if rx is not None else f"RX-{ingredient}",
        "fill_number": fill_number,
        "original_claim_id": original,
    }


def brief(row: dict) -> dict:
    """The fields of an interaction these tests look at, with days as day numbers."""
    return {
        "pair": f"{row['ingredient_a']}+{row['ingredient_b']}",
        "kind": row["kind"],
        "first": number(row["first_overlap_date"]),
        "last": number(row["last_overlap_date"]),
        "overlap_days": row["overlap_days"],
        "longest": row["longest_overlap_days"],
        "washout_gap": row["washout_gap_days"],
        "order": row["initiation_order"],
        "cross_prescriber": row["cross_prescriber"],
        "cross_pharmacy": row["cross_pharmacy"],
    }


def outcome(source: str, claims: list[dict], params: Params, as_of: date = AS_OF):
    """(counts, episodes as (ingredient, first day, last day, claim ids), interactions via brief())."""
    if source == "engine":
        counts, episodes, interactions = run_engine(claims, RULES, params, as_of)
        episodes = [(e[1], number(e[2]), number(e[3]), list(e[4])) for e in episodes]
    else:
        result = oracle.run(claims, RULES, params, as_of)
        counts = {"duplicate_fills_dropped": result.duplicate_fills_dropped, "fills_used": len(result.fills)}
        episodes = [(e.ingredient, number(e.start), number(e.end), e.claim_ids) for e in result.episodes]
        interactions = result.interactions
    interactions = sorted((brief(i) for i in interactions), key=lambda b: (b["pair"], b["kind"], b["first"]))
    return counts, sorted(episodes), interactions


@pytest.fixture(params=["engine", "oracle"])
def source(request):
    return request.param


def overlap(pair: str, first: int, last: int, days: int | None = None, longest: int | None = None, **kw):
    days = last - first + 1 if days is None else days
    row = {
        "pair": pair,
        "kind": "overlap",
        "first": first,
        "last": last,
        "overlap_days": days,
        "longest": days if longest is None else longest,
        "washout_gap": None,
        "order": "a_first",
        "cross_prescriber": False,
        "cross_pharmacy": False,
    }
    return row | kw


def washout(pair: str, on: int, gap: int, order: str = "a_first", **kw):
    row = {
        "pair": pair,
        "kind": "washout",
        "first": on,
        "last": on,
        "overlap_days": 0,
        "longest": 0,
        "washout_gap": gap,
        "order": order,
        "cross_prescriber": False,
        "cross_pharmacy": False,
    }
    return row | kw


GRACE_0 = Params(grace_days=0, merge_gap_days=30)
GRACE_7 = Params(grace_days=7, merge_gap_days=30)


# Episodes ----------------------------------------------------------------------------------------
def test_back_to_back_fills_form_one_episode(source):
    claims = [
        claim("C1", "sertraline", 1, 30, fill_number=0),
        claim("C2", "sertraline", 31, 30, fill_number=1),
    ]
    _, episodes, _ = outcome(source, claims, GRACE_0)
    assert episodes == [("sertraline", 1, 60, ["C1", "C2"])]


@pytest.mark.parametrize(
    ("second_fill_day", "expected"),
    [
        (38, [("sertraline", 1, 67, ["C1", "C2"])]),  # days 31-37 uncovered: 7 = grace, bridged
        (39, [("sertraline", 1, 30, ["C1"]), ("sertraline", 39, 68, ["C2"])]),  # 8 > grace: split
    ],
    ids=["gap_equal_to_grace_joins", "gap_of_grace_plus_one_splits"],
)
def test_grace_is_the_number_of_uncovered_days_allowed(source, second_fill_day, expected):
    claims = [claim("C1", "sertraline", 1, 30), claim("C2", "sertraline", second_fill_day, 30, fill_number=1)]
    _, episodes, _ = outcome(source, claims, GRACE_7)
    assert episodes == expected


def test_extension_is_added_after_the_last_covered_day_and_short_episodes_are_dropped(source):
    claims = [claim("C1", "sertraline", 1, 30), claim("C2", "tramadol", 100, 3)]
    params = Params(grace_days=7, extension_days=5, min_episode_days=10)
    _, episodes, _ = outcome(source, claims, params)
    assert episodes == [("sertraline", 1, 35, ["C1"])]  # tramadol: 3 + 5 = 8 days < 10


@pytest.mark.parametrize("how", ["named", "by_key"])
def test_reversal_of_a_middle_fill_splits_the_episode(source, how):
    claims = [
        claim("C1", "sertraline", 1, 30, fill_number=0),
        claim("C2", "sertraline", 31, 30, fill_number=1),
        claim("C3", "sertraline", 61, 30, fill_number=2),
        claim(
            "C4",
            "sertraline",
            31,
            30,
            fill_number=1,
            status="reversed",
            original="C2" if how == "named" else None,
        ),
    ]
    counts, episodes, _ = outcome(source, claims, GRACE_7)
    assert episodes == [("sertraline", 1, 30, ["C1"]), ("sertraline", 61, 90, ["C3"])]
    if source == "engine":
        assert counts["reversal_claims"] == 1
        assert counts["claims_cancelled"] == 1


def test_a_reversal_by_key_cancels_one_claim_the_lowest_claim_id(source):
    claims = [
        claim("C2", "sertraline", 1, 30),
        claim("C1", "sertraline", 1, 30, prescriber="DR2"),  # same key, lower claim id
        claim("C3", "sertraline", 1, 30, status="reversed"),
    ]
    _, episodes, _ = outcome(source, claims, GRACE_7)
    assert episodes == [("sertraline", 1, 30, ["C2"])]


def test_an_adjustment_replaces_the_claim_it_names(source):
    claims = [
        claim("C1", "sertraline", 1, 30),
        claim("C2", "sertraline", 1, 10, status="adjusted", original="C1"),
    ]
    _, episodes, _ = outcome(source, claims, GRACE_7)
    assert episodes == [("sertraline", 1, 10, ["C2"])]


def test_a_same_day_exact_duplicate_is_dropped_and_counted(source):
    claims = [
        claim("C1", "sertraline", 1, 30),
        claim("C2", "sertraline", 1, 30),  # the same claim again under another id
        claim("C3", "sertraline", 1, 30, prescriber="DR2"),  # another prescriber: not a duplicate
    ]
    counts, episodes, _ = outcome(source, claims, GRACE_7)
    assert episodes == [("sertraline", 1, 30, ["C1", "C3"])]
    assert counts["duplicate_fills_dropped"] == 1
    assert counts["fills_used"] == 2


def test_claims_after_the_run_date_are_ignored(source):
    claims = [claim("C1", "sertraline", 10, 30), claim("C2", "sertraline", 11, 30, fill_number=1)]
    _, episodes, _ = outcome(source, claims, GRACE_7, as_of=day(10))
    assert episodes == [("sertraline", 10, 39, ["C1"])]  # the fill on the run date counts


# Washout -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("k", "flagged"), [(13, True), (14, True), (15, False)])
def test_maoi_washout_before_sertraline_is_14_days_inclusive(source, k, flagged):
    # phenelzine covers days 1-30; sertraline starts k days after day 30
    claims = [claim("C1", "phenelzine", 1, 30), claim("C2", "sertraline", 30 + k, 30)]
    _, _, interactions = outcome(source, claims, GRACE_7)
    assert interactions == ([washout("phenelzine+sertraline", 30 + k, k)] if flagged else [])


@pytest.mark.parametrize(("k", "flagged"), [(34, True), (35, True), (36, False)])
def test_fluoxetine_washout_before_an_maoi_is_35_days_inclusive(source, k, flagged):
    claims = [claim("C1", "fluoxetine", 1, 30), claim("C2", "phenelzine", 30 + k, 30)]
    _, _, interactions = outcome(source, claims, GRACE_7)
    assert interactions == ([washout("fluoxetine+phenelzine", 30 + k, k)] if flagged else [])


def test_the_washout_after_an_maoi_before_fluoxetine_is_the_other_direction(source):
    # fluoxetine (a) after phenelzine (b): washout_b_then_a = 14, so 20 days is not flagged, 14 is
    claims = [
        claim("C1", "phenelzine", 1, 30),
        claim("C2", "fluoxetine", 50, 30),
        claim("C3", "phenelzine", 100, 30, fill_number=1),
        claim("C4", "fluoxetine", 143, 30, fill_number=1),
    ]
    _, _, interactions = outcome(source, claims, Params(grace_days=7, merge_gap_days=0))
    # phenelzine ends day 30, fluoxetine starts day 50 (k = 20 > 14): nothing;
    # fluoxetine ends day 79, phenelzine starts day 100 (k = 21 <= 35): washout, a_first;
    # phenelzine ends day 129, fluoxetine starts day 143 (k = 14 <= 14): washout, b_first.
    assert interactions == [
        washout("fluoxetine+phenelzine", 100, 21, "a_first"),
        washout("fluoxetine+phenelzine", 143, 14, "b_first"),
    ]


def test_a_washout_each_way_on_one_day_has_one_initiation_order(source):
    # phenelzine (a) 1-30, sertraline (b) 32-40, then both again from day 44 (no grace: new episodes).
    # On day 44 sertraline starts 14 days after phenelzine's end (a first) and phenelzine 4 days after
    # sertraline's (b first): one washout interaction that day, whose order is a tie. The oracle calls it
    # ambiguous (None); the engine breaks the tie the same way every time (alphabetically: a_first),
    # never by the order rows happen to arrive in (it once varied between runs of the same claims).
    claims = [
        claim("C1", "phenelzine", 1, 30),
        claim("C2", "sertraline", 32, 9),
        claim("C3", "phenelzine", 44, 30, fill_number=1),
        claim("C4", "sertraline", 44, 30, fill_number=1),
    ]
    _, _, interactions = outcome(source, claims, Params(grace_days=0, merge_gap_days=0))
    assert interactions == [
        overlap("phenelzine+sertraline", 44, 73, order="same_day"),
        washout("phenelzine+sertraline", 32, 2, "a_first"),
        washout("phenelzine+sertraline", 44, 4, "a_first" if source == "engine" else None),
    ]


# Fluoxetine refilled early three times (30-day fills on Aug 1, Aug 21 and Sep 10, days 214, 234, 254):
# without stockpiling the overlap model ends it on Oct 9 (day 283), but taking every dispensed dose the
# patient runs out on Oct 29 (day 303), and the label's 5 weeks before an MAOI count from there.
EARLY_FLUOXETINE = [
    claim("F1", "fluoxetine", 214, 30, fill_number=0),
    claim("F2", "fluoxetine", 234, 30, fill_number=1),
    claim("F3", "fluoxetine", 254, 30, fill_number=2),
]


@pytest.mark.parametrize(
    ("phenelzine_day", "expected"),
    [
        (325, [washout("fluoxetine+phenelzine", 325, 22)]),  # Nov 20: 22 days after Oct 29 (42 after Oct 9)
        (338, [washout("fluoxetine+phenelzine", 338, 35)]),  # Dec 3: day 35, still inside
        (339, []),  # Dec 4: 36 days, outside the 5 weeks
        (290, [washout("fluoxetine+phenelzine", 290, -13)]),  # Oct 16: while the refilled supply lasts
    ],
    ids=["nov20_flagged", "day35_flagged", "day36_not_flagged", "started_before_running_out"],
)
def test_washout_is_measured_from_the_day_early_refills_run_out(source, phenelzine_day, expected):
    claims = [*EARLY_FLUOXETINE, claim("P1", "phenelzine", phenelzine_day, 30)]
    _, episodes, interactions = outcome(source, claims, GRACE_7)
    assert ("fluoxetine", 214, 283, ["F1", "F2", "F3"]) in episodes  # the overlap model still truncates
    assert interactions == expected


# Overlap -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "expected"), [(30, [overlap("sertraline+tramadol", 30, 30)]), (31, [])])
def test_overlap_includes_the_last_day_of_supply(source, start, expected):
    # sertraline from day 1 for 30 days covers days 1-30
    claims = [claim("C1", "sertraline", 1, 30), claim("C2", "tramadol", start, 10)]
    _, _, interactions = outcome(source, claims, GRACE_7)
    assert interactions == expected


@pytest.mark.parametrize(
    ("sertraline_day", "tramadol_day", "order"),
    [(1, 10, "a_first"), (10, 1, "b_first"), (5, 5, "same_day")],
)
def test_initiation_order(source, sertraline_day, tramadol_day, order):
    claims = [claim("C1", "sertraline", sertraline_day, 30), claim("C2", "tramadol", tramadol_day, 30)]
    _, _, interactions = outcome(source, claims, GRACE_7)
    first, last = max(sertraline_day, tramadol_day), min(sertraline_day, tramadol_day) + 29
    assert interactions == [overlap("sertraline+tramadol", first, last, order=order)]


@pytest.mark.parametrize(
    ("second_start", "expected"),
    [
        # runs 1-10 and 41-50: 30 days between them = merge_gap_days: one interaction
        (41, [overlap("sertraline+tramadol", 1, 50, days=20, longest=10, order="same_day")]),
        # runs 1-10 and 42-51: 31 days between: two interactions
        (
            42,
            [
                overlap("sertraline+tramadol", 1, 10, order="same_day"),
                overlap("sertraline+tramadol", 42, 51, order="a_first"),
            ],
        ),
    ],
    ids=["gap_equal_to_merge_gap_is_one_interaction", "longer_gap_is_two_interactions"],
)
def test_overlap_periods_merge_within_merge_gap_days(source, second_start, expected):
    claims = [
        claim("C1", "sertraline", 1, 90, rx="RX-S"),
        claim("C2", "tramadol", 1, 10, fill_number=0),
        claim("C3", "tramadol", second_start, 10, fill_number=1),
    ]
    _, _, interactions = outcome(source, claims, GRACE_7)
    assert interactions == expected


@pytest.mark.parametrize(("days", "expected"), [(2, 0), (3, 1)])
def test_min_overlap_days_of_the_rule(source, days, expected):
    # fluoxetine + tramadol requires 3 overlapping days in this rule table
    claims = [claim("C1", "fluoxetine", 1, 30), claim("C2", "tramadol", 31 - days, 10)]
    _, _, interactions = outcome(source, claims, GRACE_7)
    assert len(interactions) == expected


def test_pairs_without_a_rule_do_not_interact(source):
    claims = [claim("C1", "fluoxetine", 1, 30), claim("C2", "sertraline", 1, 30)]
    _, _, interactions = outcome(source, claims, GRACE_7)
    assert interactions == []


# Fragmented care ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prescriber_a", "prescriber_b", "cross"),
    [("DR1", "DR1", False), ("DR1", "DR2", True), (None, "DR2", None), ("DR1", None, None)],
    ids=["same", "different", "unknown_a", "unknown_b"],
)
def test_unknown_prescriber_is_neither_same_nor_different(source, prescriber_a, prescriber_b, cross):
    claims = [
        claim("C1", "sertraline", 1, 30, prescriber=prescriber_a),
        claim("C2", "tramadol", 10, 10, prescriber=prescriber_b, pharmacy="PH2"),
    ]
    _, _, interactions = outcome(source, claims, GRACE_7)
    assert interactions == [
        overlap("sertraline+tramadol", 10, 19, cross_prescriber=cross, cross_pharmacy=True)
    ]


def test_the_sides_are_the_fills_owning_the_overlap_days(source):
    # sertraline by DR1 days 1-30, then by DR2 from day 31 (one episode); tramadol by DR2 days 5-14
    # overlaps only DR1's days: different prescribers, although DR2 also prescribes sertraline.
    claims = [
        claim("C1", "sertraline", 1, 30, prescriber="DR1"),
        claim("C2", "sertraline", 31, 30, prescriber="DR2", fill_number=1),
        claim("C3", "tramadol", 5, 10, prescriber="DR2"),
    ]
    _, _, interactions = outcome(source, claims, GRACE_7)
    assert interactions == [overlap("sertraline+tramadol", 5, 14, cross_prescriber=True)]


def test_a_grace_gap_belongs_to_the_fill_before_it(source):
    # sertraline by DR1 days 1-30, gap 31-35 (within grace), DR2 from day 36; tramadol by DR2 on
    # days 32-33 only: the gap days are owned by DR1's fill, so the prescribers differ.
    claims = [
        claim("C1", "sertraline", 1, 30, prescriber="DR1"),
        claim("C2", "sertraline", 36, 30, prescriber="DR2", fill_number=1),
        claim("C3", "tramadol", 32, 2, prescriber="DR2"),
    ]
    _, _, interactions = outcome(source, claims, GRACE_7)
    assert interactions == [overlap("sertraline+tramadol", 32, 33, cross_prescriber=True)]


# Known engine bugs -------------------------------------------------------------------------------
# Two paid claims with one key (patient, pharmacy, fill date, Rx reference, fill number) and one
# adjustment without original_claim_id: the adjustment should cancel one of them (the lowest claim
# id), as a reversal does and as int_cancelled_claims.sql's own comment says.
ADJUSTMENT_BY_KEY = [
    claim("C1", "sertraline", 1, 30, prescriber="DR1"),
    claim("C2", "sertraline", 1, 30, prescriber="DR2"),
    claim("C3", "sertraline", 1, 30, prescriber="DR3", status="adjusted"),
]
ADJUSTMENT_BY_KEY_EPISODES = [("sertraline", 1, 30, ["C2", "C3"])]

# Grace 0, extension 5: sertraline days 1-30 and 33-62 (2 uncovered days); extended by 5 days the
# first run reaches day 35, past the second's start, so the episodes join (days 1-67) instead of
# overlapping. Tramadol covers days 1-95 with its extension. Both drugs: days 1-67, one run of 67 days.
EXTENSION_OVER_GRACE = [
    claim("C1", "sertraline", 1, 30, fill_number=0),
    claim("C2", "sertraline", 33, 30, fill_number=1),
    claim("C3", "tramadol", 1, 90),
]
EXTENSION_PARAMS = Params(grace_days=0, extension_days=5, merge_gap_days=30)
EXTENSION_OVER_GRACE_EPISODES = [("sertraline", 1, 67, ["C1", "C2"]), ("tramadol", 1, 95, ["C3"])]
EXTENSION_OVER_GRACE_INTERACTIONS = [overlap("sertraline+tramadol", 1, 67, order="same_day")]


@pytest.mark.parametrize("side", ["engine", "oracle"])
def test_adjustment_by_key_cancels_one_paid_claim_only(side):
    counts, episodes, _ = outcome(side, ADJUSTMENT_BY_KEY, GRACE_7)
    assert episodes == ADJUSTMENT_BY_KEY_EPISODES
    if side == "engine":
        assert counts["claims_cancelled"] == 1


@pytest.mark.parametrize("side", ["engine", "oracle"])
def test_an_extension_longer_than_the_grace_joins_episodes_and_counts_each_day_once(side):
    _, episodes, interactions = outcome(side, EXTENSION_OVER_GRACE, EXTENSION_PARAMS)
    assert episodes == EXTENSION_OVER_GRACE_EPISODES
    assert interactions == EXTENSION_OVER_GRACE_INTERACTIONS
