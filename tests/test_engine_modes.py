"""Episode parameters one by one on hand-built fills, with the exact episodes each produces."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from serosurv.core.config import EpisodeConfig, InteractionConfig
from serosurv.core.errors import SerosurvError
from serosurv.core.warehouse import rows
from transforms import engine

DAY0 = date(2025, 1, 1)
AS_OF = date(2025, 12, 31)


def day(n: int) -> date:
    return DAY0 + timedelta(days=n)


def pairs(*triples) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "ingredient_a": a,
                "ingredient_b": b,
                "rule_id": rid,
                "severity": "moderate",
                "severity_rank": 2,
                "route_a": None,
                "route_b": None,
                "washout_a_then_b": None,
                "washout_b_then_a": None,
                "min_overlap_days": 1,
                "rule_set": "serotonergic",
            }
            for a, b, rid in triples
        ],
        schema_overrides={
            "route_a": pl.String,
            "route_b": pl.String,
            "washout_a_then_b": pl.Int32,
            "washout_b_then_a": pl.Int32,
            "min_overlap_days": pl.Int32,
            "severity_rank": pl.Int32,
        },
    )


def fill(con, claim_id, start, days, ingredient="sertraline", patient="P1", prescriber="D1", pharmacy="PH1"):
    con.execute(
        "INSERT INTO claims BY NAME SELECT $c AS claim_id, $p AS patient_id, $d AS fill_date, $s AS days_supply, "
        "$ing AS drug_name, $pr AS prescriber_id, $ph AS pharmacy_id, 'paid' AS claim_status, 'r' AS run_id",
        {
            "c": claim_id,
            "p": patient,
            "d": day(start),
            "s": days,
            "ing": ingredient,
            "pr": prescriber,
            "ph": pharmacy,
        },
    )
    con.execute(
        "INSERT INTO fill_ingredients VALUES ($c, $i, NULL, 'name', $p)",
        {"c": claim_id, "i": ingredient, "p": patient},
    )


def episodes(con, **settings):
    engine.build_episodes(con, AS_OF, EpisodeConfig(**settings))
    return [
        ((s - DAY0).days, (e - DAY0).days, n)
        for s, e, n in rows(con, "SELECT episode_start, episode_end, n_fills FROM episodes ORDER BY 1")
    ]


@pytest.fixture
def con(warehouse):
    engine.register_rules(warehouse, pairs(("sertraline", "tramadol", "R44")))
    return warehouse


def early_refill(con):
    # 30 days from day 0, refilled 10 days early on day 20, then 30 days from day 45
    fill(con, "C1", 0, 30)
    fill(con, "C2", 20, 30)
    fill(con, "C3", 45, 30)


def test_no_stockpiling_truncates_the_early_refill(con):
    early_refill(con)
    assert episodes(con, grace_days=0) == [(0, 74, 3)]
    assert rows(con, "SELECT claim_id, exposure_start, exposure_end FROM fill_exposure ORDER BY 1")[1] == (
        "C2",
        day(20),
        day(49),
    )


def test_full_carryover_starts_the_early_refill_when_the_supply_on_hand_ends(con):
    early_refill(con)
    # C2 carried to days 30-59, so C3 (day 45) is early too: carried to 60-89
    assert episodes(con, grace_days=0, stockpiling="carryover") == [(0, 89, 3)]


def test_capped_carryover_carries_at_most_the_cap(con):
    early_refill(con)
    # C2 overlaps 10 days, carried 4 -> days 24-53; C3 overlaps 9 days, carried 4 -> days 49-78
    assert episodes(con, grace_days=0, stockpiling="capped", stockpile_cap_days=4) == [(0, 78, 3)]


def test_sentinel_style_carryover_only_when_the_overlap_is_small(con):
    early_refill(con)
    # 10 of 30 days (33%) is above 20%: C2 truncated (20-49); C3 overlaps 5 of 30 (17%): carried to 50-79
    assert episodes(con, grace_days=0, stockpiling="capped", stockpile_max_overlap_percent=20) == [(0, 79, 3)]


def test_same_day_fills_are_kept_summed_or_maxed(con):
    fill(con, "C1", 0, 30)
    fill(con, "C2", 0, 10, prescriber="D2")
    assert episodes(con) == [(0, 29, 2)]
    assert episodes(con, same_day="sum") == [(0, 39, 2)]
    assert episodes(con, same_day="max") == [(0, 29, 2)]
    assert rows(con, "SELECT count(*) FROM fill_exposure") == [(2,)]


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"stockpiling": "carryover"},
        {"same_day": "sum"},
        {"same_day": "max", "stockpiling": "carryover"},
        {"end_convention": "omop"},
    ],
    ids=["defaults", "carryover", "sum", "max-carryover", "omop"],
)
def test_the_fills_give_the_same_episodes_streamed_or_stored_for_an_explanation(con, settings):
    # By default the fills and their carried-over starts stream into the episode step; an explanation
    # (trace) stores them as session tables to show them. Both must give the same episodes and counts.
    early_refill(con)
    fill(con, "C4", 45, 10, prescriber="D2")  # same day as C3
    fill(con, "C5", 45, 10, prescriber="D2")  # an exact duplicate of C4
    fill(con, "C6", 120, 30)
    config = EpisodeConfig(grace_days=5, **settings)
    results = []
    for trace in (False, True):
        counts = engine.build_episodes(con, AS_OF, config, trace=trace)
        results.append(
            (
                counts,
                rows(con, "SELECT * FROM episode_fills ORDER BY claim_id"),
                rows(con, "SELECT * FROM episodes ORDER BY episode_start"),
            )
        )
    assert results[0] == results[1]
    counts, _, found = results[0]
    assert counts["duplicate_fills_dropped"] == 1
    assert counts["same_day_fills_combined"] == (0 if settings.get("same_day", "keep") == "keep" else 1)
    assert rows(con, "SELECT claim_id FROM episode_fills ORDER BY 1") == [
        (c,) for c in ("C1", "C2", "C3", "C4", "C6")
    ]
    assert len(found) == 2
    assert rows(con, "SELECT count(*) FROM stockpiled_fills") == [(4 if "same_day" in settings else 5,)]


def test_grace_in_percent_of_the_previous_supply(con):
    fill(con, "C1", 0, 30)  # covers 0-29
    fill(con, "C2", 45, 30)  # 15 uncovered days
    assert episodes(con, grace_days=0, grace_percent=50) == [(0, 74, 2)]
    assert episodes(con, grace_days=0, grace_percent=40) == [(0, 29, 1), (45, 74, 1)]
    assert episodes(con, grace_days=15, grace_percent=40) == [(0, 74, 2)]


def test_extension_and_minimum_length(con):
    fill(con, "C1", 0, 30)
    fill(con, "C2", 100, 3)
    assert episodes(con, grace_days=0, extension_days=5) == [(0, 34, 1), (100, 107, 1)]
    assert episodes(con, grace_days=0, min_episode_days=4) == [(0, 29, 1)]


def test_omop_mode_uses_the_exclusive_end_and_a_30_day_persistence_window(con):
    fill(con, "C1", 0, 30)  # OMOP end: day 30
    fill(con, "C2", 60, 30)  # starts 30 days after the end: joined
    fill(con, "C3", 121, 30)  # 31 days after day 90: a new era
    assert episodes(con, end_convention="omop") == [(0, 90, 2), (121, 151, 1)]


def test_omop_mode_refuses_stockpiling():
    with pytest.raises(SerosurvError, match="OMOP drug_era"):
        EpisodeConfig(end_convention="omop", stockpiling="carryover")
    with pytest.raises(SerosurvError, match="'episodes.stockpiling' must be one of"):
        EpisodeConfig(stockpiling="lots")


def test_three_concurrent_serotonergic_drugs_form_a_burden_period(warehouse):
    engine.register_rules(
        warehouse,
        pairs(
            ("sertraline", "tramadol", "R44"),
            ("sertraline", "trazodone", "R61"),
            ("tramadol", "trazodone", "R47"),
        ),
    )
    fill(warehouse, "S", 0, 90, "sertraline", prescriber="D1")
    fill(warehouse, "T", 10, 20, "tramadol", prescriber="D2")
    fill(warehouse, "Z", 20, 30, "trazodone", prescriber="D3")
    engine.build_episodes(warehouse, AS_OF, EpisodeConfig(grace_days=0))
    assert engine.find_burden(warehouse) == {"burden_periods": 1}
    assert rows(
        warehouse,
        "SELECT burden_start, burden_end, burden_days, max_concurrent, ingredients, n_prescribers "
        "FROM serotonergic_burden",
    ) == [(day(20), day(29), 10, 3, ["sertraline", "tramadol", "trazodone"], 3)]


@pytest.mark.parametrize(
    "settings",
    [
        {"stockpiling": "none"},
        {"stockpiling": "carryover"},
        {"stockpiling": "capped", "stockpile_cap_days": 5},
        {"end_convention": "omop"},
    ],
    ids=["none", "carryover", "capped", "omop"],
)
def test_washouts_count_from_the_carried_over_supply_whatever_the_stockpiling(warehouse, settings):
    # fluoxetine refilled early three times (days 0, 20, 40, 30 days each): the patient runs out on day 89
    # (day 90 in the OMOP convention, whose supplies end a day later); phenelzine starts on day 111
    fill_pairs = pl.DataFrame(
        [
            {
                "ingredient_a": "fluoxetine",
                "ingredient_b": "phenelzine",
                "rule_id": "R01",
                "severity": "contraindicated",
                "severity_rank": 4,
                "route_a": None,
                "route_b": None,
                "washout_a_then_b": 35,
                "washout_b_then_a": 14,
                "min_overlap_days": 1,
                "rule_set": "serotonergic",
            }
        ],
        schema_overrides={
            "route_a": pl.String,
            "route_b": pl.String,
            "washout_a_then_b": pl.Int32,
            "washout_b_then_a": pl.Int32,
            "min_overlap_days": pl.Int32,
            "severity_rank": pl.Int32,
        },
    )
    engine.register_rules(warehouse, fill_pairs)
    for i, start in enumerate((0, 20, 40)):
        fill(warehouse, f"F{i}", start, 30, ingredient="fluoxetine")
    fill(warehouse, "M1", 111, 30, ingredient="phenelzine")
    config = EpisodeConfig(grace_days=7, **settings)
    engine.build_episodes(warehouse, AS_OF, config)
    engine.find_interactions(warehouse, InteractionConfig(), config)
    omop = settings.get("end_convention") == "omop"
    assert rows(warehouse, "SELECT supply_end FROM episodes WHERE ingredient = 'fluoxetine'") == [
        (day(90 if omop else 89),)
    ]
    assert rows(
        warehouse, "SELECT kind, rule_id, first_overlap_date, washout_gap_days FROM interactions"
    ) == [("washout", "R01", day(111), 21 if omop else 22)]
