"""Alerts across nights, on hand-built claims driving the transforms directly (no Prefect).

One patient's sertraline (D1) + tramadol story: it appears (new), continues (ongoing), gains a
prescriber (changed), is acknowledged (quiet), escalates (changed again), ends (resolved) and later
recurs (a new alert). Reruns and out-of-order nights must give the same history.
"""

from __future__ import annotations

import random
from datetime import date, datetime

import polars as pl
import pytest

from serosurv.core.config import AlertConfig, EpisodeConfig, InteractionConfig
from serosurv.core.errors import SerosurvError
from serosurv.core.warehouse import connect, rows
from transforms import alerts, engine

D = date.fromisoformat


def pair_rules(a="sertraline", b="tramadol", severity="moderate", rank=2, washout_ab=None, washout_ba=None):
    return pl.DataFrame(
        {
            "ingredient_a": [a],
            "ingredient_b": [b],
            "rule_id": ["R44"],
            "severity": [severity],
            "severity_rank": [rank],
            "route_a": [None],
            "route_b": [None],
            "washout_a_then_b": [washout_ab],
            "washout_b_then_a": [washout_ba],
            "min_overlap_days": [1],
            "rule_set": ["serotonergic"],
        },
        schema_overrides={
            "route_a": pl.String,
            "route_b": pl.String,
            "washout_a_then_b": pl.Int32,
            "washout_b_then_a": pl.Int32,
        },
    )


def add_fill(
    con, claim_id, fill_date, days, drug, prescriber="D1", pharmacy="PH1", patient="P1", quantity=30
):
    con.execute(
        "INSERT INTO claims BY NAME SELECT $c AS claim_id, $p AS patient_id, $d::DATE AS fill_date, "
        "$s AS days_supply, $drug AS drug_name, $q AS quantity, $pr AS prescriber_id, $ph AS pharmacy_id, "
        "'paid' AS claim_status, 'r1' AS run_id",
        {
            "c": claim_id,
            "p": patient,
            "d": fill_date,
            "s": days,
            "drug": drug,
            "q": quantity,
            "pr": prescriber,
            "ph": pharmacy,
        },
    )
    con.execute(
        "INSERT INTO fill_ingredients VALUES ($c, $drug, NULL, 'name', $p)",
        {"c": claim_id, "drug": drug, "p": patient},
    )


def night(con, as_of, growth=30):
    as_of = D(as_of) if isinstance(as_of, str) else as_of
    engine.build_episodes(con, as_of, EpisodeConfig())
    engine.find_interactions(con, InteractionConfig(), EpisodeConfig())
    return alerts.update_alerts(
        con, f"run-{as_of}", as_of, AlertConfig(lookback_days=30), overlap_growth_days=growth
    )


def play(con, nights):
    """Run the nights of a story in order, each after adding its fills."""
    for as_of, fills in nights:
        for fill in fills:
            add_fill(con, *fill)
        night(con, as_of)


def states(con, as_of):
    """(alert_id, status, reasons) of one night."""
    return rows(
        con,
        "SELECT alert_id, status, status_reasons FROM alert_history WHERE as_of = $d ORDER BY alert_id",
        {"d": D(as_of)},
    )


def on_worklist(con):
    return [a["alert_id"] for a in alerts.worklist(con)]


def history(con):
    """The whole history without the run ids and computation times (which reruns may change)."""
    return rows(
        con,
        "SELECT * EXCLUDE (run_id, computed_at) FROM alert_history ORDER BY as_of, alert_id",
    )


# The story: fills arrive night by night (before the night that first sees them).
STORY = [
    (
        "2025-01-25",
        [
            ("S1", "2025-01-01", 90, "sertraline", "D1", "PH1"),
            ("T1", "2025-01-20", 10, "tramadol", "D2", "PH1"),
        ],
    ),
    ("2025-01-27", []),
    ("2025-01-31", [("T2", "2025-01-30", 10, "tramadol", "D3", "PH1")]),  # a new prescriber
    ("2025-02-03", []),
    ("2025-02-10", [("T3", "2025-02-09", 30, "tramadol", "D3", "PH1")]),  # overlap grows 20 -> 50 days
    ("2025-03-31", []),
    ("2025-04-15", []),  # last co-exposure 2025-03-10, more than 30 days ago
    (
        "2025-06-12",
        [
            ("S2", "2025-06-01", 90, "sertraline", "D1", "PH1"),
            ("T4", "2025-06-10", 5, "tramadol", "D2", "PH2"),
        ],
    ),
]
EXPECTED = {
    "2025-01-25": ("new", []),
    "2025-01-27": ("ongoing", []),
    "2025-01-31": ("changed", ["new_prescriber"]),
    "2025-02-03": ("ongoing", []),
    "2025-02-10": ("changed", ["overlap_grew"]),
    "2025-03-31": ("ongoing", []),
    "2025-04-15": ("resolved", ["no_longer_current"]),
}


@pytest.fixture
def rules_registered(warehouse):
    engine.register_rules(warehouse, pair_rules())
    return warehouse


def run_story(con, act=True):
    ids = {}
    for as_of, fills in STORY:
        for fill in fills:
            add_fill(con, *fill)
        night(con, as_of)
        ids[as_of] = states(con, as_of)
        if act and as_of == "2025-01-31":
            first = ids[as_of][0][0]
            assert on_worklist(con) == [first]
            alerts.record_action(
                con,
                first,
                action="M0",
                result="1G",
                operator="pharmacist.kim",
                note="Dr D3 aware; continue with monitoring",
                acted_at=datetime(2025, 2, 1, 9),
            )
            assert on_worklist(con) == []  # acknowledged: quiet
        if act and as_of == "2025-02-03":
            assert on_worklist(con) == []  # still quiet: nothing changed
        if act and as_of == "2025-02-10":
            assert on_worklist(con) == [ids[as_of][0][0]]  # escalated: back on the worklist
    return ids


def test_one_alert_through_its_life_and_a_recurrence_is_a_new_alert(rules_registered):
    con = rules_registered
    ids = run_story(con)
    first_id = ids["2025-01-25"][0][0]
    for as_of, (status, reasons) in EXPECTED.items():
        assert ids[as_of] == [(first_id, status, reasons)], as_of
    (recurrence,) = ids["2025-06-12"]
    assert recurrence[1:] == ("new", []) and recurrence[0] != first_id
    assert rows(con, "SELECT alert_id, status FROM alerts ORDER BY first_overlap_date") == [
        (first_id, "resolved"),
        (recurrence[0], "new"),
    ]
    assert rows(con, "SELECT count(DISTINCT alert_id) FROM alert_history") == [(2,)]


def test_alert_fields_carry_the_ncpdp_flags_and_the_priority_parts(rules_registered):
    con = rules_registered
    play(con, STORY[:3])
    (alert,) = alerts.worklist(con)
    assert alert["other_prescriber_indicator"] == "2"  # D1 vs D2, D3
    assert alert["other_pharmacy_indicator"] == "1"  # both at PH1
    assert alert["clinical_significance"] == "2"
    assert alert["reason_for_service"] == "DD"
    assert (alert["current_drug"], alert["other_drug"]) == ("tramadol", "sertraline")
    assert (alert["previous_fill_date"], alert["previous_fill_quantity"]) == (D("2025-01-01"), 30.0)
    assert alert["priority_parts"] == {
        "severity": 200.0,
        "cross_prescriber": 20.0,
        "cross_pharmacy": 0.0,
        "washout": 0.0,
        "recency": 5.0,
        "overlap": round(20 / 6, 2),
        "burden": 2.0,
    }
    assert alert["priority"] == pytest.approx(sum(alert["priority_parts"].values()))
    assert alert["prescriber_ids_b"] == ["D2", "D3"]


def test_rerunning_any_night_changes_nothing(rules_registered):
    con = rules_registered
    run_story(con, act=False)
    before, latest = history(con), rows(con, "SELECT * EXCLUDE (last_seen_run, first_seen_run) FROM alerts")
    for as_of, _ in STORY:
        night(con, as_of)
        assert history(con) == before, as_of
        assert rows(con, "SELECT * EXCLUDE (last_seen_run, first_seen_run) FROM alerts") == latest


def test_nights_out_of_order_give_the_same_history_as_in_order(rules_registered, tmp_path):
    con = rules_registered
    run_story(con, act=False)
    expected = history(con)
    for seed in (1, 2, 3):
        other = connect(tmp_path / f"shuffled-{seed}.duckdb")
        engine.register_rules(other, pair_rules())
        for _, fills in STORY:  # every claim is there from the start; each night sees its own dates
            for fill in fills:
                add_fill(other, *fill)
        nights = [as_of for as_of, _ in STORY]
        random.Random(seed).shuffle(nights)
        for as_of in nights:
            night(other, as_of)
        assert history(other) == expected, nights
        assert rows(other, "SELECT count(*), count(DISTINCT alert_id) FROM alerts") == [(2, 2)]
        other.close()


def test_a_backfill_in_order_replays_the_later_nights_once(rules_registered):
    con = rules_registered
    run_story(con, act=False)
    expected = history(con)
    nights = [D(as_of) for as_of, _ in STORY]
    for as_of in nights[2:5]:  # backfill three middle nights again
        engine.build_episodes(con, as_of, EpisodeConfig())
        engine.find_interactions(con, InteractionConfig(), EpisodeConfig())
        alerts.backfill_night(con, "backfill", as_of, AlertConfig(), last_night=nights[4])
    assert history(con) == expected


def test_a_snoozed_alert_returns_on_its_date(rules_registered):
    con = rules_registered
    add_fill(con, "S1", "2025-01-01", 90, "sertraline", "D1")
    add_fill(con, "T1", "2025-01-20", 60, "tramadol", "D1")
    night(con, "2025-01-25")
    (alert_id,) = on_worklist(con)
    alerts.record_action(con, alert_id, action="R0", operator="kim", snooze_until=D("2025-02-10"))
    for as_of, quiet in (
        ("2025-02-01", True),
        ("2025-02-09", True),
        ("2025-02-10", False),
        ("2025-02-12", False),
    ):
        night(con, as_of)
        assert states(con, as_of) == [(alert_id, "ongoing", [])]
        assert on_worklist(con) == ([] if quiet else [alert_id]), as_of


def test_a_backdated_claim_moves_the_first_date_but_keeps_the_alert(rules_registered):
    con = rules_registered
    add_fill(con, "S1", "2025-01-01", 90, "sertraline", "D1")
    add_fill(con, "T1", "2025-01-20", 10, "tramadol", "D2")
    night(con, "2025-01-25")
    (interaction_before,) = rows(con, "SELECT interaction_id FROM interactions")
    add_fill(con, "T0", "2025-01-12", 5, "tramadol", "D2")  # arrives late, dated before T1
    night(con, "2025-01-27")
    (interaction_after,) = rows(con, "SELECT interaction_id FROM interactions")
    assert interaction_before != interaction_after
    (first,) = states(con, "2025-01-25")
    assert states(con, "2025-01-27") == [(first[0], "ongoing", [])]
    assert rows(con, "SELECT first_overlap_date FROM alerts") == [(D("2025-01-12"),)]


def test_a_washout_that_becomes_an_overlap_is_the_same_alert_changed(warehouse):
    con = warehouse
    engine.register_rules(con, pair_rules("phenelzine", "sertraline", "contraindicated", 4, 14, 14))
    add_fill(con, "M1", "2025-01-01", 30, "phenelzine", "D1")  # covers to 01-30
    add_fill(con, "S1", "2025-02-05", 30, "sertraline", "D1")  # 6 days later: washout
    night(con, "2025-02-06")
    ((alert_id, status, _),) = states(con, "2025-02-06")
    assert status == "new" and rows(con, "SELECT kind FROM alerts") == [("washout",)]
    add_fill(con, "M2", "2025-02-10", 30, "phenelzine", "D1")  # the MAOI restarts: overlap
    night(con, "2025-02-11")
    assert states(con, "2025-02-11") == [(alert_id, "changed", ["washout_became_overlap"])]
    assert rows(con, "SELECT kind, severity, clinical_significance FROM alerts") == [
        ("overlap", "contraindicated", "1")
    ]


def test_a_raised_severity_changes_the_alert(rules_registered):
    con = rules_registered
    add_fill(con, "S1", "2025-01-01", 90, "sertraline", "D1")
    add_fill(con, "T1", "2025-01-20", 60, "tramadol", "D1")
    night(con, "2025-01-25")
    ((alert_id, _, _),) = states(con, "2025-01-25")
    engine.register_rules(con, pair_rules(severity="major", rank=3))
    night(con, "2025-01-26")
    assert states(con, "2025-01-26") == [(alert_id, "changed", ["severity_raised"])]


def test_overlap_growth_threshold_zero_turns_the_check_off(rules_registered):
    con = rules_registered
    add_fill(con, "S1", "2025-01-01", 200, "sertraline", "D1")
    add_fill(con, "T1", "2025-01-20", 10, "tramadol", "D1")
    night(con, "2025-01-25", growth=0)
    add_fill(con, "T2", "2025-01-30", 90, "tramadol", "D1")
    night(con, "2025-02-01", growth=0)
    assert [s[1] for s in states(con, "2025-02-01")] == ["ongoing"]
    night(con, "2025-02-01", growth=30)
    assert [s[1:] for s in states(con, "2025-02-01")] == [("changed", ["overlap_grew"])]


def test_bad_codes_and_unknown_alerts_are_one_sentence_errors(rules_registered):
    con = rules_registered
    add_fill(con, "S1", "2025-01-01", 90, "sertraline", "D1")
    add_fill(con, "T1", "2025-01-20", 60, "tramadol", "D2")
    night(con, "2025-01-25")
    (alert_id,) = on_worklist(con)
    with pytest.raises(SerosurvError, match="'XX' is not a professional service code"):
        alerts.record_action(con, alert_id, action="XX", operator="kim")
    with pytest.raises(SerosurvError, match="'9Z' is not a result of service code"):
        alerts.record_action(con, alert_id, action="M0", result="9Z", operator="kim")
    with pytest.raises(SerosurvError, match="not a RetroDUR response"):
        alerts.record_action(con, alert_id, action="M0", response="maybe", operator="kim")
    with pytest.raises(SerosurvError, match="There is no alert 'nope'"):
        alerts.record_action(con, "nope", action="M0", operator="kim")
    with pytest.raises(SerosurvError, match="must be after the alert's latest night"):
        alerts.record_action(con, alert_id, action="M0", operator="kim", snooze_until=D("2025-01-25"))
    stored = alerts.record_action(con, alert_id[:6], action="m0", response="Not my patient", operator="kim")
    assert (stored["alert_id"], stored["action_code"], stored["response"]) == (
        alert_id,
        "M0",
        "not_my_patient",
    )
    assert rows(con, "SELECT count(*) FROM alert_actions") == [(1,)]


def test_vocabularies_cover_the_ncpdp_codes_named_in_the_issue():
    from serosurv.core.vocabularies import load_vocabularies

    vocab = load_vocabularies()
    assert {"M0", "R0", "MR", "CC"} <= set(vocab["professional_service"])
    assert {"1A", "1B", "1E", "1G", "2A", "2B", "3E"} <= set(vocab["result_of_service"])
    assert set(vocab["retrodur_response"]) == {"agree", "disagree", "not_my_patient", "did_not_prescribe"}
    assert all(code.source for codes in vocab.values() for code in codes.values())


def test_an_old_warehouse_gains_the_new_columns(tmp_path):
    import duckdb

    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute(
        "CREATE TABLE alert_history (as_of DATE, run_id VARCHAR, alert_id VARCHAR, status VARCHAR, "
        "severity VARCHAR, priority DOUBLE)"
    )
    old.execute("INSERT INTO alert_history VALUES ('2025-01-01', 'r0', 'x', 'new', 'major', 300)")
    old.close()
    for _ in range(2):  # idempotent
        con = connect(path)
        names = {
            r[0]
            for r in rows(con, "SELECT column_name FROM duckdb_columns() WHERE table_name = 'alert_history'")
        }
        assert {"snapshot", "priority_parts", "status_reasons", "patient_id"} <= names
        assert rows(con, "SELECT alert_id, status FROM alert_history") == [("x", "new")]
        con.close()


def test_history_rows_written_before_alerts_kept_their_state_take_it_from_alerts(rules_registered):
    con = rules_registered
    play(con, STORY[:2])
    (alert_id, patient, first, opened), *_ = rows(
        con, "SELECT alert_id, patient_id, first_overlap_date, opened_on FROM alert_history ORDER BY as_of"
    )
    # as an older serosurv wrote them: no patient, pair, dates or baseline on the history rows
    con.execute(
        "UPDATE alert_history SET patient_id = NULL, ingredient_a = NULL, ingredient_b = NULL, "
        "first_overlap_date = NULL, opened_on = NULL, baseline_overlap_days = NULL"
    )
    play(con, STORY[2:3])  # a new prescriber; the night completes the old rows, then continues the alert
    assert rows(
        con,
        "SELECT DISTINCT alert_id, patient_id, ingredient_a, first_overlap_date, opened_on FROM alert_history",
    ) == [(alert_id, patient, "sertraline", first, opened)]
    assert states(con, "2025-01-31")[0][:2] == (alert_id, "changed")
