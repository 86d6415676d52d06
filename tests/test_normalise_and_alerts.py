"""Drug mapping to ingredients, and alert statuses across nights, on hand-built tables."""

from __future__ import annotations

from datetime import date

import polars as pl

from serosurv.core.config import AlertConfig, EpisodeConfig, InteractionConfig
from serosurv.core.rules import load_rules
from serosurv.core.warehouse import rows
from transforms import alerts, engine, normalise


def add_claim(
    con,
    claim_id,
    patient,
    fill_date,
    days,
    drug=None,
    ndc=None,
    rxcui=None,
    prescriber="D1",
    pharmacy="PH1",
    status="paid",
    run_id="r1",
):
    con.execute(
        "INSERT INTO claims BY NAME SELECT $c AS claim_id, $p AS patient_id, $d::DATE AS fill_date, "
        "$s AS days_supply, $drug AS drug_name, $ndc AS ndc, $rx AS rxcui, $pr AS prescriber_id, "
        "$ph AS pharmacy_id, $st AS claim_status, $run AS run_id",
        {
            "c": claim_id,
            "p": patient,
            "d": fill_date,
            "s": days,
            "drug": drug,
            "ndc": ndc,
            "rx": rxcui,
            "pr": prescriber,
            "ph": pharmacy,
            "st": status,
            "run": run_id,
        },
    )


def test_ndc_wins_over_rxcui_and_rxcui_over_name_and_the_rest_is_listed_unmapped(warehouse):
    ruleset = load_rules()
    warehouse.execute("INSERT INTO ref_ndc VALUES ('00000000001', 'sertraline', NULL, 'Zoloft', 'test')")
    add_claim(warehouse, "A", "P1", "2025-01-01", 30, drug="tramadol 50 mg", ndc="00000000001")
    add_claim(warehouse, "B", "P1", "2025-01-01", 30, drug="metformin", rxcui="10689")
    add_claim(warehouse, "C", "P1", "2025-01-01", 30, drug="Ultracet 37.5-325 mg")
    add_claim(warehouse, "D", "P2", "2025-01-01", 30, drug="METFORMIN HCL 500 MG TAB")
    add_claim(warehouse, "E", "P3", "2025-01-01", 30, drug="METFORMIN HCL 500 MG TAB")
    counts = normalise.map_ingredients(warehouse, ruleset, "r1")
    assert rows(warehouse, "SELECT claim_id, ingredient, mapped_by FROM fill_ingredients ORDER BY ALL") == [
        ("A", "sertraline", "ndc"),
        ("B", "tramadol", "rxcui"),
        ("C", "tramadol", "name"),
    ]
    assert rows(warehouse, "SELECT drug_name, fills, patients FROM unmapped_drugs") == [
        ("METFORMIN HCL 500 MG TAB", 2, 2)
    ]
    assert counts["claims_unmapped"] == 2


def night(con, as_of):
    engine.build_episodes(con, as_of, EpisodeConfig())
    engine.find_interactions(con, InteractionConfig(), EpisodeConfig())
    return alerts.update_alerts(con, f"run-{as_of}", as_of, AlertConfig(lookback_days=30))


def statuses(con, as_of):
    return rows(
        con,
        "SELECT i.ingredient_a || '+' || i.ingredient_b, h.status FROM alert_history h "
        "LEFT JOIN interactions i ON i.interaction_id = h.alert_id WHERE h.as_of = $d ORDER BY 1",
        {"d": as_of},
    )


def test_alert_is_new_then_ongoing_then_resolved_and_reruns_change_nothing(warehouse):
    pairs = pl.DataFrame(
        {
            "ingredient_a": ["sertraline"],
            "ingredient_b": ["tramadol"],
            "rule_id": ["R44"],
            "severity": ["moderate"],
            "severity_rank": [2],
            "route_a": [None],
            "route_b": [None],
            "washout_a_then_b": [None],
            "washout_b_then_a": [None],
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
    engine.register_rules(warehouse, pairs)
    add_claim(warehouse, "S1", "P1", "2025-01-01", 90, drug="sertraline", prescriber="D1")
    add_claim(warehouse, "T1", "P1", "2025-01-20", 10, drug="tramadol", prescriber="D2")
    warehouse.execute(
        "INSERT INTO fill_ingredients VALUES ('S1', 'sertraline', NULL, 'name', 'P1'), "
        "('T1', 'tramadol', NULL, 'name', 'P1')"
    )
    assert night(warehouse, date(2025, 1, 31)) == {"alerts_new": 1}
    assert night(warehouse, date(2025, 2, 15)) == {"alerts_ongoing": 1}
    assert night(warehouse, date(2025, 2, 15)) == {"alerts_ongoing": 1}  # rerun: same answer
    assert night(warehouse, date(2025, 3, 31)) == {"alerts_resolved": 1}
    assert night(warehouse, date(2025, 4, 30)) == {}
    assert rows(warehouse, "SELECT count(*), any_value(status), any_value(cross_prescriber) FROM alerts") == [
        (1, "resolved", True)
    ]
    assert rows(warehouse, "SELECT count(*) FROM alert_history") == [(3,)]
