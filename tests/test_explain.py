"""`serosurv explain PATIENT`: hand-built histories, one situation per patient, through a real night (the
Prefect flow on a CSV written here), each with the exact verdict code and reason, and each claim's exact
fate. Two warehouses: the default settings, and one that combines same-day fills, carries early refills
over, drops one-day episodes and counts an overlap of sertraline + tramadol only from 3 days (an edited copy
of the rules). The interactions explain reports are checked against the day-by-day oracle (tests/oracle.py).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import shutil
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from serosurv import api
from serosurv.cli import main
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import default_rules_dir, load_rules
from tests import oracle
from tests.conftest import query

NIGHT = date(2025, 6, 30)
HEADER = "claim_id,patient_id,fill_date,days_supply,drug_name,prescriber_id,pharmacy_id,claim_status,original_claim_id"


def line(claim, patient, fill_date, days, drug, prescriber="DR1", pharmacy="PH1", status="paid", original=""):
    return f"{claim},{patient},{fill_date},{days},{drug},{prescriber},{pharmacy},{status},{original}"


# Each patient is one situation (the comment says which verdict or fate it shows).
DEFAULT_CLAIMS = [
    # alerted: phenelzine (Nardil) and sertraline from two prescribers and pharmacies, overlapping in June
    line("A1", "P01", "2025-05-01", 60, "Nardil 15 mg", "DR1", "PH1"),
    line("A2", "P01", "2025-06-01", 30, "sertraline 50 mg", "DR2", "PH2"),
    # no_rule: amitriptyline and bupropion together (no rule of the serotonergic set covers them)
    line("B1", "P02", "2025-06-01", 30, "amitriptyline 25 mg"),
    line("B2", "P02", "2025-06-01", 30, "bupropion XL 150 mg"),
    # beyond_washout: sertraline 21 days after phenelzine ran out; the washout after an MAOI is 14 days
    line("C1", "P03", "2025-03-01", 30, "Nardil 15 mg"),
    line("C2", "P03", "2025-04-20", 30, "sertraline 50 mg", "DR2", "PH2"),
    # outside_lookback: sertraline + tramadol in January, the night is June 30 (lookback 30 days)
    line("D1", "P05", "2025-01-01", 30, "sertraline 50 mg"),
    line("D2", "P05", "2025-01-10", 10, "tramadol 50 mg", "DR3", "PH1"),
    # side_quarantined: the phenelzine row has a days supply that is not a number
    line("E1", "P06", "2025-06-01", 30, "sertraline 50 mg"),
    line("E2", "P06", "2025-06-05", "thirty", "phenelzine 15 mg", "DR2", "PH2"),
    # name_not_recognised: 'zertraline' maps to nothing (its first letter differs from sertraline's)
    line("F1", "P07", "2025-06-01", 30, "Nardil 15 mg"),
    line("F2", "P07", "2025-06-05", 30, "zertraline 50 mg", "DR2", "PH2"),
    # cancelled: sertraline reversed (the reversal names it); no_exposure for sertraline + tramadol
    line("G1", "P08", "2025-06-01", 30, "sertraline 50 mg"),
    line("G2", "P08", "2025-06-01", 30, "sertraline 50 mg", status="reversed", original="G1"),
    line("G3", "P08", "2025-06-10", 10, "tramadol 50 mg", "DR2", "PH1"),
    # duplicate: the same sertraline fill under two claim ids
    line("H1", "P09", "2025-06-01", 30, "sertraline 50 mg"),
    line("H2", "P09", "2025-06-01", 30, "sertraline 50 mg"),
    # early_refill_truncated: refilled 10 days early (episodes.stockpiling = none)
    line("I1", "P10", "2025-05-01", 30, "sertraline 50 mg"),
    line("I2", "P10", "2025-05-21", 30, "sertraline 50 mg"),
    # alerted washout: sertraline 6 days after phenelzine ran out
    line("J1", "P13", "2025-05-01", 30, "Nardil 15 mg"),
    line("J2", "P13", "2025-06-05", 30, "sertraline 50 mg", "DR2", "PH1"),
    # combination_product: Auvelity alone (dextromethorphan + bupropion)
    line("K1", "P14", "2025-06-01", 30, "Auvelity 45 mg-105 mg"),
    # route_not_covered: almotriptan with oral methylene blue (the rule is for IV methylene blue)
    line("L1", "P15", "2025-06-01", 30, "almotriptan 12.5 mg"),
    line("L2", "P15", "2025-06-05", 10, "methylene blue 25 mg oral tablet", "DR2", "PH1"),
    # no_overlap: sertraline then tramadol, apart, and R44 sets no washout
    line("M1", "P16", "2025-03-01", 30, "sertraline 50 mg"),
    line("M2", "P16", "2025-05-01", 10, "tramadol 50 mg"),
    # not_mapped and not_in_rules alongside an alerted pair
    line("N1", "P17", "2025-06-01", 30, "lisinopril 10 mg"),
    # real names from MIMIC-IV that are near a rule name but no misspelling: "Diskus" is 2 edits from the
    # methadone brand "diskets", "amantadine" 3 from "amfetamine"
    line("T1", "P19", "2025-06-01", 30, "sertraline 50 mg"),
    line("T2", "P19", "2025-06-01", 30, "Fluticasone-Salmeterol Diskus (100/50) [IH]"),
    line("T3", "P19", "2025-06-01", 30, "Amantadine [PO/NG]"),
]
POOLED_CLAIMS = [
    # overlap_below_minimum: 2 days of sertraline + tramadol where the edited R44 counts 3 or more
    line("O1", "P04", "2025-06-01", 10, "sertraline 50 mg"),
    line("O2", "P04", "2025-06-09", 5, "tramadol 50 mg", "DR2", "PH1"),
    # combined_same_day: two sertraline fills on one day (10 + 20 days), summed (episodes.same_day = sum)
    line("Q1", "P11", "2025-06-01", 10, "sertraline 50 mg"),
    line("Q2", "P11", "2025-06-01", 20, "sertraline 100 mg", "DR2", "PH1"),
    # early_refill_carried_over: refilled 10 days early (episodes.stockpiling = carryover)
    line("R1", "P12", "2025-05-01", 30, "sertraline 50 mg"),
    line("R2", "P12", "2025-05-21", 30, "sertraline 50 mg"),
    # short_episode: one day of sertraline (episodes.min_episode_days = 2)
    line("S1", "P18", "2025-06-10", 1, "sertraline 50 mg"),
]


def write_claims(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def default_night(prefect_harness, tmp_path_factory):
    folder = tmp_path_factory.mktemp("explain-default")
    warehouse = folder / "serosurv.duckdb"
    api.run(
        [write_claims(folder / "claims.csv", DEFAULT_CLAIMS)],
        out_dir=folder / "out",
        warehouse=warehouse,
        as_of=NIGHT,
    )
    return warehouse


@pytest.fixture(scope="module")
def pooled_night(prefect_harness, tmp_path_factory):
    folder = tmp_path_factory.mktemp("explain-pooled")
    rules = folder / "rules"
    shutil.copytree(default_rules_dir(), rules)
    pair_rules = rules / "pair_rules.csv"
    text = pair_rules.read_text(encoding="utf-8")
    r44 = next(row for row in text.splitlines() if row.startswith("R44,"))
    fields = next(csv.reader([r44]))
    header = next(csv.reader([text.splitlines()[0]]))
    fields[header.index("min_overlap_days")] = "3"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    pair_rules.write_text(text.replace(r44, buffer.getvalue()), encoding="utf-8")
    config = folder / "pooled.toml"
    config.write_text(
        '[episodes]\nsame_day = "sum"\nstockpiling = "carryover"\nmin_episode_days = 2\n'
        f'[rules]\ndirectory = "{rules}"\n',
        encoding="utf-8",
    )
    warehouse = folder / "serosurv.duckdb"
    api.run(
        [write_claims(folder / "claims.csv", POOLED_CLAIMS)],
        out_dir=folder / "out",
        warehouse=warehouse,
        as_of=NIGHT,
        config_file=config,
    )
    return warehouse


def verdict(found, a, b):
    (match,) = [v for v in found.verdicts if {v.ingredient_a, v.ingredient_b} == {a, b}]
    return match


def fate(found, claim_id):
    (match,) = [c for c in found.claims if c.claim_id == claim_id]
    return match


# ---------------------------------------------------------------------------- verdicts


def test_an_alerted_overlap_names_its_alert_status_and_priority_parts(default_night):
    found = api.explain_patient("P01", warehouse=default_night)
    v = verdict(found, "phenelzine", "sertraline")
    ((alert_id, priority),) = query(
        default_night, "SELECT alert_id, priority FROM alerts WHERE patient_id = 'P01'"
    )
    assert (v.code, v.rule_id, v.severity) == ("alerted", "R01", "contraindicated")
    assert v.alert["alert_id"] == alert_id and v.alert["status"] == "new"
    assert v.alert["priority"] == pytest.approx(priority) == pytest.approx(436.83)
    assert v.alert["priority_parts"] == pytest.approx(
        {
            "severity": 400,
            "cross_prescriber": 20,
            "cross_pharmacy": 10,
            "washout": 0,
            "recency": 2,
            "overlap": 4.83,
            "burden": 0,
        }
    )
    (interaction,) = v.interactions
    assert (interaction["kind"], interaction["first_overlap_date"], interaction["last_overlap_date"]) == (
        "overlap",
        date(2025, 6, 1),
        date(2025, 6, 29),
    )
    assert "covered together on 29 days from 2025-06-01 to 2025-06-29" in v.words
    assert f"alert {alert_id}: new on the night of 2025-06-30" in v.words
    assert "severity +400 different prescribers +20 different pharmacies +10" in v.words
    assert found.mode == "night" and found.night == NIGHT and not found.notes


def test_an_alerted_washout_says_how_many_days_after_the_maoi_ran_out(default_night):
    v = verdict(api.explain_patient("P13", warehouse=default_night), "phenelzine", "sertraline")
    assert v.code == "alerted" and v.interactions[0]["kind"] == "washout"
    assert v.interactions[0]["washout_gap_days"] == 6 and v.interactions[0]["washout_days"] == 14
    assert "sertraline started on 2025-06-05, 6 days after phenelzine ran out" in v.words


def test_no_rule_for_the_pair(default_night):
    v = verdict(api.explain_patient("P02", warehouse=default_night), "amitriptyline", "bupropion")
    assert (v.code, v.rule_id) == ("no_rule", None)
    assert v.words == "No rule of the active rule sets (serotonergic, maoi) covers amitriptyline + bupropion."


def test_episodes_too_far_apart_for_the_washout_in_that_direction(default_night):
    v = verdict(api.explain_patient("P03", warehouse=default_night), "phenelzine", "sertraline")
    assert (v.code, v.rule_id) == ("beyond_washout", "R01")
    assert v.facts == {"gap_days": 21, "washout_days": 14, "first": "phenelzine", "second": "sertraline"}
    assert v.words.startswith(
        "sertraline started on 2025-04-20, 21 days after phenelzine ran out on 2025-03-30 (taking every "
        "dispensed dose); rule R01 (contraindicated) sets a washout of 14 days from phenelzine to sertraline, so "
        "this start is 7 days outside it."
    )


def test_overlap_below_the_rules_minimum(pooled_night):
    v = verdict(api.explain_patient("P04", warehouse=pooled_night), "sertraline", "tramadol")
    assert (v.code, v.rule_id) == ("overlap_below_minimum", "R44")
    assert v.facts == {"longest_overlap_days": 2, "min_overlap_days": 3}
    assert "covered together on at most 2 days (from 2025-06-09)" in v.words


def test_outside_the_lookback_so_not_on_the_nights_worklist(default_night):
    v = verdict(api.explain_patient("P05", warehouse=default_night), "sertraline", "tramadol")
    assert (v.code, v.rule_id, v.severity) == ("outside_lookback", "R44", "moderate")
    assert v.facts == {"last_day": date(2025, 1, 19), "days_before_night": 162, "lookback_days": 30}
    assert "It was never on a worklist" in v.words and v.alert is None


def test_one_side_quarantined(default_night):
    found = api.explain_patient("P06", warehouse=default_night)
    v = verdict(found, "phenelzine", "sertraline")
    assert v.code == "side_quarantined"
    assert v.facts["sides"] == [
        {"ingredient": "phenelzine", "quarantined_rows": 1, "reason_codes": ["bad_days_supply"]}
    ]
    row = next(c for c in found.claims if not c.accepted)
    assert (row.fate, row.reason_code, row.source_row, row.fill_date) == (
        "quarantined",
        "bad_days_supply",
        10,
        date(2025, 6, 5),
    )
    assert "days_supply 'thirty' is not a whole number" in row.words and row.ingredients == ["phenelzine"]


def test_a_name_not_recognised_names_the_nearest_rule_drug(default_night):
    found = api.explain_patient("P07", warehouse=default_night)
    v = verdict(found, "phenelzine", "sertraline")
    assert v.code == "name_not_recognised"
    assert v.facts["sides"] == [
        {"ingredient": "sertraline", "name": "zertraline 50 mg", "nearest": "sertraline", "distance": 1}
    ]
    claim = fate(found, "F2")
    assert (
        claim.fate == "not_mapped"
        and "looks misspelt: 'zertraline' is 1 letter(s) from 'sertraline'" in claim.mapping
    )


def test_a_combination_product_alone(default_night):
    v = verdict(api.explain_patient("P14", warehouse=default_night), "bupropion", "dextromethorphan")
    assert (v.code, v.rule_id) == ("combination_product", "R50")
    assert "one combination product holding both ('Auvelity 45 mg-105 mg')" in v.words


def test_a_rule_only_for_another_route(default_night):
    v = verdict(api.explain_patient("P15", warehouse=default_night), "almotriptan", "methylene blue")
    assert (v.code, v.rule_id) == ("route_not_covered", "R37")
    assert "methylene blue oral" in v.words and "iv methylene blue" in v.words


def test_never_together_and_no_washout(default_night):
    v = verdict(api.explain_patient("P16", warehouse=default_night), "sertraline", "tramadol")
    assert (v.code, v.facts) == (
        "no_overlap",
        {"days_apart": 32, "first": "sertraline", "second": "tramadol"},
    )


def test_a_side_whose_only_claim_was_reversed_has_no_exposure(default_night):
    found = api.explain_patient("P08", warehouse=default_night)
    v = verdict(found, "sertraline", "tramadol")
    assert v.code == "no_exposure" and v.facts["sides"] == [
        {"ingredient": "sertraline", "claims": 1, "fates": ["cancelled"]}
    ]
    assert fate(found, "G1").fate == "cancelled"
    assert fate(found, "G1").words == "cancelled by reversal G2 (it names this claim): it covers no days"
    assert fate(found, "G2").fate == "reversal"


def test_pair_asked_for_that_the_patient_never_had(default_night):
    found = api.explain_patient("P02", pair=("Zoloft", "tramadol"), warehouse=default_night)
    (v,) = found.verdicts
    assert (v.ingredient_a, v.ingredient_b, v.code) == ("sertraline", "tramadol", "no_claims")
    assert v.words == "The patient has no claim of sertraline. The patient has no claim of tramadol."


# ---------------------------------------------------------------------------- fates


def test_an_exact_duplicate_is_named_with_the_claim_kept(default_night):
    found = api.explain_patient("P09", warehouse=default_night)
    assert fate(found, "H1").fate == "used"
    assert (fate(found, "H2").fate, fate(found, "H2").words) == (
        "duplicate",
        "sertraline: an exact duplicate of claim H1 (same drug, dates, prescriber and pharmacy under another claim "
        "id): dropped, that claim kept",
    )


def test_an_early_refill_truncated(default_night):
    found = api.explain_patient("P10", warehouse=default_night)
    claim = fate(found, "I2")
    assert claim.fate == "early_refill_truncated"
    assert "refilled 10 days before the supply on hand ran out" in claim.words
    assert "the patient runs out on 2025-06-29" in claim.words  # 60 days from May 1, every dose taken
    (episode,) = found.episodes
    assert (episode.start, episode.end, episode.supply_end) == (
        date(2025, 5, 1),
        date(2025, 6, 19),
        date(2025, 6, 29),
    )


def test_an_early_refill_carried_over(pooled_night):
    found = api.explain_patient("P12", warehouse=pooled_night)
    claim = fate(found, "R2")
    assert claim.fate == "early_refill_carried_over"
    assert (
        "carried over (episodes.stockpiling = carryover): counted from 2025-05-31 to 2025-06-29"
        in claim.words
    )


def test_same_day_fills_combined(pooled_night):
    found = api.explain_patient("P11", warehouse=pooled_night)
    for claim_id, other in (("Q1", "Q2"), ("Q2", "Q1")):
        claim = fate(found, claim_id)
        assert claim.fate == "combined_same_day"
        assert (
            f"combined with claim(s) {other} dispensed the same day (episodes.same_day = sum): one fill of 30 days, "
            "2025-06-01 to 2025-06-30" in claim.words
        )


def test_a_one_day_episode_below_the_minimum_is_dropped(pooled_night):
    claim = fate(api.explain_patient("P18", warehouse=pooled_night), "S1")
    assert claim.fate == "short_episode" and "(2): dropped" in claim.words


def test_mapping_words_and_unmapped_drugs(default_night):
    found = api.explain_patient("P17", warehouse=default_night)
    claim = fate(found, "N1")
    assert (
        claim.fate == "not_mapped"
        and claim.mapping == "the name 'lisinopril 10 mg' names no drug the rules know"
    )
    assert found.verdicts == []
    p01 = api.explain_patient("P01", warehouse=default_night)
    assert fate(p01, "A1").mapping == "'Nardil 15 mg': phenelzine by name"


def test_a_real_drug_near_a_rule_name_is_not_taken_for_a_misspelling(default_night):
    found = api.explain_patient("P19", warehouse=default_night)
    assert found.verdicts == []  # sertraline is the only rule drug: no pair, no "name not recognised"
    for claim_id, name in (
        ("T2", "Fluticasone-Salmeterol Diskus (100/50) [IH]"),
        ("T3", "Amantadine [PO/NG]"),
    ):
        claim = fate(found, claim_id)
        assert (claim.fate, claim.mapping) == (
            "not_mapped",
            f"the name '{name}' names no drug the rules know",
        )


# ---------------------------------------------------------------------------- as of another night


def test_as_of_an_earlier_date_recomputes_that_night_without_writing(default_night):
    before = hashlib.sha256(default_night.read_bytes()).hexdigest()
    found = api.explain_patient("P01", as_of=date(2025, 5, 15), warehouse=default_night)
    assert found.mode == "as_of" and found.night == date(2025, 5, 15)
    v = verdict(found, "phenelzine", "sertraline")
    assert v.code == "no_exposure" and "filled on 2025-06-01, after the night of 2025-05-15" in v.words
    assert fate(found, "A2").fate == "after_night"
    found = api.explain_patient("P01", as_of=date(2025, 6, 15), warehouse=default_night)
    v = verdict(found, "phenelzine", "sertraline")
    assert v.code == "interaction_found" and v.interactions[0]["first_overlap_date"] == date(2025, 6, 1)
    assert "no night's alert states were recorded on that date" in v.words
    assert hashlib.sha256(default_night.read_bytes()).hexdigest() == before


def test_the_explanation_agrees_with_the_day_by_day_oracle(default_night):
    """Every found interaction and every episode of the default night's patients, against tests/oracle.py
    (which shares no code with the engine), from the claims and the ingredients explain reports."""
    ruleset = load_rules()
    table = ruleset.pair_table().filter(
        ruleset.pair_table()["route_a"].is_null() & ruleset.pair_table()["route_b"].is_null()
    )
    rules = {
        (r["ingredient_a"], r["ingredient_b"]): oracle.Rule(
            r["rule_id"],
            r["severity"],
            r["severity_rank"],
            r["washout_a_then_b"],
            r["washout_b_then_a"],
            r["min_overlap_days"],
        )
        for r in table.to_dicts()
    }
    checked = 0
    for patient in sorted({row.split(",")[1] for row in DEFAULT_CLAIMS}):
        found = api.explain_patient(patient, warehouse=default_night)
        claims = [
            {
                "claim_id": claim_id,
                "patient_id": patient,
                "fill_date": fill_date,
                "days_supply": days,
                "end_date": None,
                "ingredients": ingredients,
                "ingredient": None,
                "ndc": product,
                "prescriber_id": prescriber,
                "pharmacy_id": pharmacy,
                "claim_status": status,
                "rx_reference": None,
                "fill_number": None,
                "original_claim_id": original,
            }
            for claim_id, fill_date, days, product, prescriber, pharmacy, status, original, ingredients in query(
                default_night,
                "SELECT c.claim_id, fill_date, days_supply, drug_name, prescriber_id, pharmacy_id, claim_status, "
                "original_claim_id, list((ingredient, route)) FROM claims c JOIN fill_ingredients USING (patient_id, claim_id) "
                "WHERE patient_id = $p GROUP BY ALL",
                {"p": patient},
            )
        ]
        if any(len(c["ingredients"]) > 1 or any(r for _, r in c["ingredients"]) for c in claims):
            continue  # combination products and routes: the oracle's rule table here has no route rows
        expected = oracle.run(claims, rules, oracle.Params(), NIGHT)
        shown = sorted(
            (
                i["ingredient_a"],
                i["ingredient_b"],
                i["kind"],
                i["first_overlap_date"],
                i["last_overlap_date"],
                i["overlap_days"],
                i["washout_gap_days"],
                i["rule_id"],
            )
            for v in found.verdicts
            for i in v.interactions
        )
        assert shown == sorted(
            (
                i["ingredient_a"],
                i["ingredient_b"],
                i["kind"],
                i["first_overlap_date"],
                i["last_overlap_date"],
                i["overlap_days"],
                i["washout_gap_days"],
                i["rule_id"],
            )
            for i in expected.interactions
        ), patient
        assert sorted((e.ingredient, e.start, e.end) for e in found.episodes) == sorted(
            (e.ingredient, e.start, e.end) for e in expected.episodes
        ), patient
        checked += len(shown)
    assert checked == 3  # P01, P05 and P13


# ---------------------------------------------------------------------------- the command


def test_the_command_prints_text_json_and_a_page_and_logs_nothing(default_night, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    page = tmp_path / "p01.html"
    code = main(["explain", "P01", "--warehouse", str(default_night), "--html", str(page)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("Patient P01: the latest successful night, 2025-06-30")
    assert "phenelzine + sertraline: ALERTED (contraindicated, rule R01)" in out
    assert f"Page with the timeline: {page}" in out
    html = page.read_text(encoding="utf-8")
    assert "Patient P01" in html and html.count('<svg class="timeline"') == 2  # the patient, the interaction
    assert "<script" not in html
    assert main(["explain", "P01", "--format", "json", "--warehouse", str(default_night)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["patient_id"] == "P01" and data["verdicts"][0]["code"] == "alerted"
    assert set(data["verdict_codes"]) >= {"alerted", "no_rule", "beyond_washout", "overlap_below_minimum"}
    assert not [r for r in caplog.records if "P01" in r.getMessage()]


def test_an_unknown_patient_is_one_sentence_without_the_id(default_night, capsys):
    assert main(["explain", "P99-unknown", "--warehouse", str(default_night)]) == 2
    err = capsys.readouterr().err
    assert "No claim and no quarantined row" in err and "P99" not in err
    with pytest.raises(SerosurvError, match="'Zolofft' is not a drug name"):
        api.explain_patient("P01", pair=("Zolofft", "tramadol"), warehouse=default_night)


def test_timeline_of_a_one_day_fill_in_1975_is_scaled_to_its_window():
    """A night in 2025 and a one-day fill in 1975: the chart spans the interaction and its margin, so the fill
    is drawn tens of pixels wide, and the night (outside the span) is not drawn."""
    from reports.timeline import timeline_layout

    day = date(1975, 3, 10)
    alert = {
        "ingredient_a": "linezolid",
        "ingredient_b": "sertraline",
        "kind": "overlap",
        "first_overlap_date": day,
        "last_overlap_date": day,
        "as_of": date(2025, 6, 30),
    }
    fills = [
        {
            "ingredient": "linezolid",
            "exposure_start": day,
            "exposure_end": day,
            "prescriber_id": "DR1",
            "pharmacy_id": "PH1",
            "claim_id": "X1",
        },
        {
            "ingredient": "sertraline",
            "exposure_start": day - timedelta(days=20),
            "exposure_end": day + timedelta(days=9),
            "prescriber_id": "DR2",
            "pharmacy_id": "PH2",
            "claim_id": "X2",
        },
    ]
    chart = timeline_layout(alert, fills, [])
    one_day = chart["lanes"][0]["fills"][0]["width"]
    assert one_day > 20  # 598 px for 21 days
    assert (
        chart["night"] is None and chart["start"] == date(1975, 2, 28) and chart["end"] == date(1975, 3, 20)
    )
    assert [t["day"].year for t in chart["ticks"]] == [1975] * len(chart["ticks"])


# ---------------------------------------------------------------------------- the audit of a period


def alert_tables(warehouse):
    return query(
        warehouse,
        "SELECT alert_id, status, quiet, action, as_of FROM alerts ORDER BY ALL",
    ), query(warehouse, "SELECT count(*), max(as_of) FROM alert_history")


def test_the_audit_of_a_period_lists_every_interaction_active_in_it_and_changes_no_alert(
    default_night, tmp_path
):
    """June 2025: P01's overlap (different prescribers and pharmacies) before P13's washout (different
    prescribers, one pharmacy), both contraindicated and on the worklist. The whole year adds P05's January
    sertraline + tramadol (moderate), never on a worklist: it ended 162 days before the only night."""
    before = alert_tables(default_night), hashlib.sha256(default_night.read_bytes()).hexdigest()
    june = api.audit(date(2025, 6, 1), date(2025, 6, 30), tmp_path / "june", warehouse=default_night)
    assert (june.interactions, june.night) == (2, NIGHT)
    assert june.report.name == "audit_2025-06-01_2025-06-30.html"
    rows = pl.read_parquet(june.parquet).to_dicts()
    assert [
        (r["patient_id"], r["kind"], r["severity"], r["fragmentation_rank"], r["status"]) for r in rows
    ] == [
        ("P01", "overlap", "contraindicated", 1, "new"),
        ("P13", "washout", "contraindicated", 2, "new"),
    ]
    alerts = dict(query(default_night, "SELECT patient_id, alert_id FROM alerts"))
    assert [r["alert_id"] for r in rows] == [alerts["P01"], alerts["P13"]]
    assert rows[0]["prescriber_ids_a"] == ["DR1"] and rows[0]["prescriber_ids_b"] == ["DR2"]
    assert (
        rows[0]["clinical_significance"],
        rows[0]["other_prescriber_indicator"],
        rows[0]["other_pharmacy_indicator"],
    ) == ("1", "2", "3")
    assert json.loads(rows[0]["priority_parts"])["severity"] == 400

    year = api.audit(date(2025, 1, 1), date(2025, 12, 31), tmp_path / "year", warehouse=default_night)
    with year.csv.open(encoding="utf-8") as handle:
        listed = list(csv.DictReader(handle))
    assert [
        (r["position"], r["patient_id"], r["ingredient_a"], r["ingredient_b"], r["severity"], r["status"])
        for r in listed
    ] == [
        ("1", "P01", "phenelzine", "sertraline", "contraindicated", "new"),
        ("2", "P13", "phenelzine", "sertraline", "contraindicated", "new"),
        ("3", "P05", "sertraline", "tramadol", "moderate", ""),
    ]
    assert (listed[2]["first_overlap_date"], listed[2]["last_overlap_date"], listed[2]["overlap_days"]) == (
        "2025-01-10",
        "2025-01-19",
        "10",
    )
    assert listed[2]["prescriber_ids_b"] == "DR3" and listed[2]["alert_id"] == ""
    html = year.report.read_text(encoding="utf-8")
    assert html.index('<h2 id="severity-contraindicated">') < html.index('<h2 id="severity-moderate">')
    assert "contraindicated: different prescribers and different pharmacies (1)" in html
    assert "moderate: different prescribers (1)" in html
    assert "never on a worklist" in html and html.count('<svg class="timeline"') == 3
    none = api.audit(date(2024, 1, 1), date(2024, 12, 31), tmp_path / "none", warehouse=default_night)
    assert none.interactions == 0 and "No interaction was active in the period." in none.report.read_text()
    assert (alert_tables(default_night), hashlib.sha256(default_night.read_bytes()).hexdigest()) == before


def test_the_audit_command(default_night, tmp_path, capsys):
    code = main(
        [
            "audit",
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-31",
            "--out",
            str(tmp_path),
            "--warehouse",
            str(default_night),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == (
        "Audit: 1 interaction(s) active in the period, as the night of 2025-06-30 computed them (read-only: no "
        "alert changed)."
    )
    assert f"CSV:     {(tmp_path / 'audit_2025-01-01_2025-01-31.csv').resolve()}" in out
    code = main(["audit", "--from", "2025-02-01", "--to", "2025-01-01", "--warehouse", str(default_night)])
    assert code == 2 and capsys.readouterr().err.strip().endswith("--to must not be before --from.")


def test_the_audits_filters_and_the_explain_page_in_chromium(default_night, tmp_path):
    """The year's audit opened with #filter:status=none shows only P05's interaction (never on a worklist);
    with #filter:drug=tramadol&pharmacy=ph1 the same one; #filter:patient=0 P01 and P05. The explain page
    (no script) draws its timelines with no console error."""
    from tests.test_reports import SCREENSHOTS, items, render

    written = api.audit(date(2025, 1, 1), date(2025, 12, 31), tmp_path / "year", warehouse=default_night)
    for fragment, shown in (
        ("#filter:status=none", ["P05"]),
        ("#filter:drug=tramadol&pharmacy=ph1", ["P05"]),
        ("#filter:severity=contraindicated&prescriber=dr2", ["P01", "P13"]),
        ("#filter:patient=0", ["P01", "P05"]),
        ("#filter:status=new&patient=P13", ["P13"]),
    ):
        dom, console = render(written.report, SCREENSHOTS / "period-audit.png", tmp_path, fragment)
        assert console == []
        found = items(dom)
        assert len(found) == 3, fragment
        assert [i["patient"] for i in found if not i["hidden"]] == shown, fragment
        assert f"showing {len(shown)} of 3 interactions" in dom
    page = tmp_path / "p13.html"
    api.explain_patient("P13", warehouse=default_night, html=page)
    dom, console = render(page, SCREENSHOTS / "explain.png", tmp_path)
    assert console == [] and dom.count('<svg class="timeline"') == 2
    assert "washout window (14 days)" in dom
