"""Clinical safety (issue 14): no dangerous combination unflagged, understated or buried.

Every case builds claims by hand with the drug names a pharmacy sends, runs them through the real rule
set (names -> ingredients -> episodes -> interactions, and alerts where the worklist is concerned) and
asserts the exact interaction, or its absence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pytest

from serosurv.core.config import AlertConfig, EpisodeConfig, InteractionConfig
from serosurv.core.rules import load_rules
from serosurv.core.warehouse import ensure_schema, rows
from transforms import alerts, catalog, engine, normalise

D = date.fromisoformat
AS_OF = D("2025-12-31")


@dataclass(frozen=True)
class Fill:
    drug: str
    start: str
    days: int = 30
    patient: str = "P1"
    prescriber: str | None = "DR1"
    pharmacy: str | None = "PH1"


@pytest.fixture(scope="module")
def rulesets():
    return {j: load_rules(jurisdiction=j) for j in ("us", "fr", "strictest")}


def warehouse_with(fills: list[Fill], ruleset) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_schema(con)
    add(con, fills)
    engine.register_rules(con, ruleset.pair_table())
    return con


def add(con: duckdb.DuckDBPyConnection, fills: list[Fill]) -> None:
    start = rows(con, "SELECT count(*) FROM claims")[0][0]
    for i, f in enumerate(fills, start=start + 1):
        con.execute(
            "INSERT INTO claims BY NAME SELECT $id AS claim_id, $p AS patient_id, $d::DATE AS fill_date, "
            "$s AS days_supply, $name AS drug_name, $pr AS prescriber_id, $ph AS pharmacy_id, "
            "'paid' AS claim_status, 'r1' AS run_id",
            {
                "id": f"C{i:03d}",
                "p": f.patient,
                "d": f.start,
                "s": f.days,
                "name": f.drug,
                "pr": f.prescriber,
                "ph": f.pharmacy,
            },
        )


def engine_night(con, ruleset, as_of: date = AS_OF, episodes: EpisodeConfig | None = None) -> None:
    normalise.map_ingredients(con, ruleset, "r1")
    settings = episodes or EpisodeConfig()
    engine.build_episodes(con, as_of, settings)
    engine.find_interactions(con, InteractionConfig(), settings)


def interactions(fills: list[Fill], ruleset, **kw) -> list[tuple]:
    con = warehouse_with(fills, ruleset)
    engine_night(con, ruleset, **kw)
    return rows(
        con,
        "SELECT ingredient_a, ingredient_b, rule_id, severity, kind, first_overlap_date, washout_gap_days "
        "FROM interactions ORDER BY ALL",
    )


# ---------------------------------------------------------------------------- 1. washouts and early refills


@pytest.mark.parametrize("stockpiling", ["none", "carryover", "capped"])
def test_fluoxetine_refilled_early_keeps_its_five_weeks_before_phenelzine(rulesets, stockpiling):
    # 30-day fills on Aug 1, Aug 21, Sep 10: truncated, the supply "ends" Oct 9; taking every dose, Oct 29.
    fills = [
        Fill("Prozac 20 mg", "2025-08-01"),
        Fill("Prozac 20 mg", "2025-08-21"),
        Fill("Prozac 20 mg", "2025-09-10"),
        Fill("Nardil 15 mg tab", "2025-11-20"),
    ]
    settings = EpisodeConfig(stockpiling=stockpiling, stockpile_cap_days=5)
    assert interactions(fills, rulesets["us"], episodes=settings) == [
        ("fluoxetine", "phenelzine", "R01", "contraindicated", "washout", D("2025-11-20"), 22)
    ]


def test_phenelzine_after_the_five_weeks_is_not_flagged(rulesets):
    fills = [
        Fill("Prozac 20 mg", "2025-08-01"),
        Fill("Prozac 20 mg", "2025-08-21"),
        Fill("Prozac 20 mg", "2025-09-10"),
        Fill("Nardil 15 mg tab", "2025-12-04"),
    ]
    assert interactions(fills, rulesets["us"]) == []  # Dec 4 is 36 days after Oct 29


# ---------------------------------------------------------------------------- 2. label contraindications


ZYVOX = Fill("Zyvox 600 mg tablet", "2025-03-10", 10, prescriber="DR9", pharmacy="HOSP")


@pytest.mark.parametrize(
    ("partner", "pair", "rule", "severity"),
    [
        ("nortriptyline 25 mg cap", ("linezolid", "nortriptyline"), "R82", "contraindicated"),
        ("Tofranil-PM 75 mg", ("imipramine", "linezolid"), "R82", "contraindicated"),
        ("Norpramin 25 mg", ("desipramine", "linezolid"), "R82", "contraindicated"),
        ("trimipramine 50 mg", ("linezolid", "trimipramine"), "R82", "contraindicated"),
        ("Remeron 15 mg", ("linezolid", "mirtazapine"), "R82", "contraindicated"),
        ("trazodone 50 mg tab", ("linezolid", "trazodone"), "R82", "contraindicated"),
        ("busPIRone 10 mg", ("buspirone", "linezolid"), "R82", "contraindicated"),
        ("Exxua 18.2 mg", ("gepirone", "linezolid"), "R82", "contraindicated"),
        ("Wellbutrin XL 150 mg", ("bupropion", "linezolid"), "R83", "contraindicated"),
        ("clomipramine 25 mg", ("clomipramine", "linezolid"), "R35", "contraindicated"),
        ("cyclobenzaprine 10 mg", ("cyclobenzaprine", "linezolid"), "R20", "contraindicated"),
        ("amitriptyline 25 mg", ("amitriptyline", "linezolid"), "R37", "major"),  # label not found to say so
    ],
)
def test_linezolid_with_drugs_whose_us_labels_contraindicate_it(rulesets, partner, pair, rule, severity):
    found = interactions([Fill(partner, "2025-02-20", 30), ZYVOX], rulesets["us"])
    assert found == [(*pair, rule, severity, "overlap", D("2025-03-10"), None)]


@pytest.mark.parametrize("name", ["ProvayBlue 0.5% injection", "methylene blue", "meth blue"])
def test_iv_or_unlabelled_methylene_blue_with_mirtazapine_is_contraindicated(rulesets, name):
    found = interactions([Fill("Remeron 15 mg", "2025-02-20"), Fill(name, "2025-03-01", 1)], rulesets["us"])
    assert found == [
        ("methylene blue", "mirtazapine", "R82", "contraindicated", "overlap", D("2025-03-01"), None)
    ]


def test_bupropion_after_an_maoi_and_an_maoi_after_bupropion_need_14_days(rulesets):
    maoi_first = [Fill("Nardil 15 mg", "2025-01-01", 30), Fill("Wellbutrin XL 150 mg", "2025-02-09")]
    assert interactions(maoi_first, rulesets["us"]) == [
        ("bupropion", "phenelzine", "R16", "contraindicated", "washout", D("2025-02-09"), 10)
    ]
    bupropion_first = [Fill("bupropion SR 150 mg", "2025-01-01", 30), Fill("Marplan 10 mg", "2025-02-13")]
    assert interactions(bupropion_first, rulesets["us"]) == [
        ("bupropion", "isocarboxazid", "R16", "contraindicated", "washout", D("2025-02-13"), 14)
    ]


def test_auvelity_and_contrave_toward_maois(rulesets):
    auvelity = [Fill("Parnate 10 mg", "2025-01-01", 30), Fill("Auvelity 45-105 mg", "2025-02-09")]
    assert interactions(auvelity, rulesets["us"]) == [
        ("bupropion", "tranylcypromine", "R16", "contraindicated", "washout", D("2025-02-09"), 10),
        ("dextromethorphan", "tranylcypromine", "R10", "contraindicated", "washout", D("2025-02-09"), 10),
    ]
    auvelity_first = [Fill("Auvelity 45-105 mg", "2025-01-01", 30), Fill("Nardil 15 mg", "2025-02-10")]
    assert interactions(auvelity_first, rulesets["us"]) == [
        ("bupropion", "phenelzine", "R16", "contraindicated", "washout", D("2025-02-10"), 11),
        ("dextromethorphan", "phenelzine", "R10", "contraindicated", "washout", D("2025-02-10"), 11),
    ]
    contrave = [Fill("Contrave 8-90 mg", "2025-01-01"), Fill("Marplan 10 mg", "2025-01-15")]
    assert interactions(contrave, rulesets["us"]) == [
        ("bupropion", "isocarboxazid", "R16", "contraindicated", "overlap", D("2025-01-15"), None)
    ]


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("Matulane 50 mg", "amitriptyline 25 mg", ("amitriptyline", "procarbazine", "R95", "major")),
        ("Focalin XR 10 mg", "Nardil 15 mg", ("dexmethylphenidate", "phenelzine", "R19", "contraindicated")),
        ("Adipex-P 37.5 mg", "Azilect 1 mg", ("phentermine", "rasagiline", "R89", "contraindicated")),
        ("Fintepla 2.2 mg/mL", "Zoloft 50 mg", ("fenfluramine", "sertraline", "R65", "moderate")),
        ("Belviq 10 mg", "Parnate 10 mg", ("lorcaserin", "tranylcypromine", "R86", "contraindicated")),
        (
            "Strattera 40 mg",
            "Emsam 6 mg/24 hr patch",
            ("atomoxetine", "selegiline", "R89", "contraindicated"),
        ),
        ("Sinemet 25-100", "Nardil 15 mg", ("levodopa", "phenelzine", "R90", "contraindicated")),
        ("Meridia 10 mg", "Marplan 10 mg", ("isocarboxazid", "sibutramine", "R93", "contraindicated")),
    ],
)
def test_agents_that_were_missing(rulesets, first, second, expected):
    found = interactions([Fill(first, "2025-01-01"), Fill(second, "2025-01-10")], rulesets["us"])
    assert found == [(*expected, "overlap", D("2025-01-10"), None)]


def test_levodopa_with_a_selective_mao_b_inhibitor_is_not_flagged(rulesets):
    assert (
        interactions(
            [Fill("Sinemet 25-100", "2025-01-01"), Fill("Azilect 1 mg", "2025-01-10")], rulesets["us"]
        )
        == []
    )


@pytest.mark.parametrize(
    ("maoi", "partner", "pair", "rule"),
    [
        ("Nardil 15 mg", "St. John's Wort 300 mg", ("phenelzine", "st john's wort"), "R22"),
        ("Nardil 15 mg", "L-tryptophan 500 mg", ("phenelzine", "tryptophan"), "R23"),
        ("Nardil 15 mg", "5-HTP 100 mg", ("oxitriptan", "phenelzine"), "R23"),
        ("Nardil 15 mg", "methadone 10 mg", ("methadone", "phenelzine"), "R07"),
        ("Azilect 1 mg", "methadone 10 mg", ("methadone", "rasagiline"), "R25"),
        ("Zyvox 600 mg", "cyclobenzaprine 10 mg", ("cyclobenzaprine", "linezolid"), "R20"),
        ("Nardil 15 mg", "cyclobenzaprine 10 mg", ("cyclobenzaprine", "phenelzine"), "R20"),
    ],
)
def test_one_mechanism_one_level_across_maois(rulesets, maoi, partner, pair, rule):
    found = interactions([Fill(maoi, "2025-01-01"), Fill(partner, "2025-01-10")], rulesets["us"])
    assert found == [(*pair, rule, "contraindicated", "overlap", D("2025-01-10"), None)]


@pytest.mark.parametrize(
    ("jurisdiction", "expected"),
    [("us", ("R66", "minor")), ("fr", ("R12", "contraindicated")), ("strictest", ("R12", "contraindicated"))],
)
def test_french_only_contraindications_take_the_us_level_by_default(rulesets, jurisdiction, expected):
    found = interactions(
        [Fill("Azilect 1 mg", "2025-01-01"), Fill("Imitrex 50 mg", "2025-01-10", 9)], rulesets[jurisdiction]
    )
    assert found == [("rasagiline", "sumatriptan", *expected, "overlap", D("2025-01-10"), None)]


# ---------------------------------------------------------------------------- 3. route


@pytest.mark.parametrize(
    ("name", "rule", "severity"),
    [
        ("Urelle tablet", "R97", "moderate"),
        ("Uribel capsule", "R97", "moderate"),
        (
            "methenamine/sodium phosphate/methylene blue/hyoscyamine 81.6-40.8-10.8-0.12 mg oral tablet",
            "R97",
            "moderate",
        ),
        ("ProvayBlue 5 mg/mL injection", "R32", "contraindicated"),
        ("methylene blue 1% vial", "R32", "contraindicated"),
    ],
)
def test_oral_methylene_blue_is_rated_on_its_own_sources(rulesets, name, rule, severity):
    found = interactions([Fill("Zoloft 50 mg", "2025-01-01"), Fill(name, "2025-01-10", 5)], rulesets["us"])
    assert found == [("methylene blue", "sertraline", rule, severity, "overlap", D("2025-01-10"), None)]


# ---------------------------------------------------------------------------- 4. combination products


@pytest.mark.parametrize(
    "fills",
    [
        [Fill("Auvelity 45-105 mg", "2025-01-01")],
        [Fill("Auvelity 45-105 mg", "2025-01-01"), Fill("Auvelity 45-105 mg", "2025-01-25")],  # early refill
        [Fill("Adderall XR 20 mg", "2025-01-01")],
        [Fill("Symbyax 6-25 mg", "2025-01-01")],
    ],
    ids=["auvelity", "auvelity_refilled_early", "adderall", "symbyax"],
)
def test_a_combination_product_never_interacts_with_itself(rulesets, fills):
    assert interactions(fills, rulesets["us"]) == []


@pytest.mark.parametrize(
    ("fills", "expected"),
    [
        (
            [Fill("Auvelity 45-105 mg", "2025-01-01"), Fill("Wellbutrin XL 150 mg", "2025-01-10")],
            ("bupropion", "dextromethorphan", "R50", "moderate", D("2025-01-01"), 3),
        ),
        (
            [Fill("Adderall XR 20 mg", "2025-01-01"), Fill("Dexedrine 10 mg", "2025-01-10")],
            ("amphetamine", "dextroamphetamine", "R66", "minor", D("2025-01-01"), 3),
        ),
        (
            [Fill("Symbyax 6-25 mg", "2025-01-01"), Fill("Zoloft 50 mg", "2025-01-10")],
            ("fluoxetine", "sertraline", "R62", "moderate", D("2025-01-10"), 2),
        ),
    ],
    ids=["auvelity_and_wellbutrin", "adderall_and_dexedrine", "symbyax_and_zoloft"],
)
def test_a_second_product_still_interacts(rulesets, fills, expected):
    # The interaction spans the whole co-exposure of the two ingredients, from the combination product's
    # own start (README, Semantics); the second product's claim is on its side.
    con = warehouse_with(fills, rulesets["us"])
    engine_night(con, rulesets["us"])
    pair, rule, severity, first, claims = expected[:2], expected[2], expected[3], expected[4], expected[5]
    assert rows(
        con,
        "SELECT ingredient_a, ingredient_b, rule_id, severity, kind, first_overlap_date, "
        "len(claim_ids_a) + len(claim_ids_b) FROM interactions",
    ) == [(*pair, rule, severity, "overlap", first, claims)]


# ---------------------------------------------------------------------------- 5. the most dangerous first


def alert_night(con, ruleset, as_of: str) -> None:
    engine_night(con, ruleset, D(as_of))
    alerts.update_alerts(con, f"run-{as_of}", D(as_of), AlertConfig())


def test_an_ongoing_contraindicated_alert_is_listed_above_a_new_minor_one(rulesets):
    ruleset = rulesets["us"]
    con = warehouse_with(
        [Fill("Nardil 15 mg", "2025-03-01", 60), Fill("Zoloft 50 mg", "2025-03-10", 60)], ruleset
    )
    alert_night(con, ruleset, "2025-03-20")
    add(
        con,
        [
            Fill("Imitrex 50 mg", "2025-03-25", 9, patient="P2"),
            Fill("Zoloft 50 mg", "2025-03-20", 30, patient="P2"),
        ],
    )
    alert_night(con, ruleset, "2025-03-31")
    listed = [(a["patient_id"], a["status"], a["severity"]) for a in alerts.worklist(con)]
    assert listed == [("P1", "ongoing", "contraindicated"), ("P2", "new", "minor")]
    catalog.write_rules_catalog(con, ruleset)
    from reports import audit

    audit._stage_worklist(con, "run-2025-03-31", D("2025-03-31"), 4)
    assert rows(con, "SELECT patient_id, status, position FROM report_worklist ORDER BY position") == [
        ("P1", "ongoing", 1),
        ("P2", "new", 2),
    ]


def test_a_washout_is_not_lifted_above_a_concurrent_overlap_of_the_same_severity(rulesets):
    ruleset = rulesets["us"]
    fills = [
        Fill("Nardil 15 mg", "2025-03-01", 30, patient="P3"),
        Fill("Zoloft 50 mg", "2025-03-30", 30, patient="P3"),
        Fill("Nardil 15 mg", "2025-03-01", 30, patient="P4"),
        Fill("Zoloft 50 mg", "2025-04-05", 30, patient="P4"),
    ]
    con = warehouse_with(fills, ruleset)
    alert_night(con, ruleset, "2025-04-06")
    listed = [(a["patient_id"], a["kind"], a["priority_parts"]["washout"]) for a in alerts.worklist(con)]
    assert listed == [("P3", "overlap", 0.0), ("P4", "washout", 0.0)]


def test_a_contraindicated_alert_resolved_without_review_stays_until_acted_on(rulesets):
    ruleset = rulesets["us"]
    fills = [
        Fill("Nardil 15 mg", "2025-03-01", 30),
        Fill("Zoloft 50 mg", "2025-03-10", 20),
        Fill("Zoloft 50 mg", "2025-03-01", 20, patient="P2"),
        Fill("tramadol 50 mg", "2025-03-10", 10, patient="P2"),
    ]
    con = warehouse_with(fills, ruleset)
    alert_night(con, ruleset, "2025-03-20")
    alert_night(con, ruleset, "2025-06-30")  # both interactions long over: resolved
    listed = [(a["patient_id"], a["status_label"], a["severity"]) for a in alerts.worklist(con)]
    assert listed == [("P1", "resolved, never reviewed", "contraindicated")]  # the moderate one is not kept
    (alert_id,) = (a["alert_id"] for a in alerts.worklist(con))
    alerts.record_action(con, alert_id, action="M0", operator="A. Patel", acted_at=None)
    assert alerts.worklist(con) == []
    assert alerts.worklist(con, unreviewed_min_rank=0) == []


def test_the_report_keeps_a_never_reviewed_resolved_alert_on_later_nights(rulesets):
    ruleset = rulesets["us"]
    con = warehouse_with(
        [Fill("Nardil 15 mg", "2025-03-01", 30), Fill("Zoloft 50 mg", "2025-03-10", 20)], ruleset
    )
    catalog.write_rules_catalog(con, ruleset)
    for night in ("2025-03-20", "2025-06-30", "2025-07-01"):
        alert_night(con, ruleset, night)
    from reports import audit

    audit._stage_worklist(con, "run-2025-07-01", D("2025-07-01"), 4)
    assert rows(con, "SELECT status, unreviewed, carried_over FROM report_worklist") == [
        ("resolved", True, True)
    ]
    audit._stage_worklist(con, "run-2025-07-01", D("2025-07-01"), 0)
    assert rows(con, "SELECT count(*) FROM report_worklist") == [(0,)]


def test_priority_parts_leave_severity_first_and_no_washout_bonus():
    assert AlertConfig().unreviewed_min_rank == 4
    assert AlertConfig(keep_unreviewed_resolved="").unreviewed_min_rank == 0
    assert AlertConfig(keep_unreviewed_resolved="major").unreviewed_min_rank == 3


def _days(n: int) -> timedelta:
    return timedelta(days=n)


# ---------------------------------------------------------------------------- 6. no serotonergic name is silent


def test_a_misspelt_name_still_alerts_and_the_alert_says_it_was_matched_approximately(rulesets):
    ruleset = rulesets["us"]
    con = warehouse_with(
        [Fill("Nardil 15 mg", "2025-03-01", 60), Fill("setraline 50mg", "2025-03-10", 30)], ruleset
    )
    catalog.write_rules_catalog(con, ruleset)
    alert_night(con, ruleset, "2025-03-20")
    from reports import audit

    audit._stage_worklist(con, "run-2025-03-20", D("2025-03-20"), 4)
    assert rows(
        con, "SELECT severity, ingredient_a, ingredient_b, approximate_names FROM report_worklist"
    ) == [("contraindicated", "phenelzine", "sertraline", ["setraline 50mg"])]
    card = audit._alert_card(audit._worklist(con)[0], None)
    assert "Name matched approximately" in card and "setraline 50mg" in card


def test_alerts_show_marks_the_fill_whose_name_was_matched_approximately(rulesets):
    ruleset = rulesets["us"]
    con = warehouse_with(
        [Fill("Nardil 15 mg", "2025-03-01", 60), Fill("setraline 50mg", "2025-03-10", 30)], ruleset
    )
    alert_night(con, ruleset, "2025-03-20")
    ((alert_id,),) = rows(con, "SELECT alert_id FROM alerts")
    fills = alerts.alert_detail(con, alert_id)["fills"]
    assert sorted((f["product"], f["ingredient"], f["mapped_by"]) for f in fills) == [
        ("Nardil 15 mg", "phenelzine", "name"),
        ("setraline 50mg", "sertraline", "name_approx"),
    ]


@pytest.mark.parametrize(("convention", "supply_end"), [("inclusive", "2025-03-30"), ("omop", "2025-03-31")])
def test_alerts_show_ends_each_supply_by_the_nights_end_convention(rulesets, convention, supply_end):
    ruleset = rulesets["us"]
    con = warehouse_with([Fill("Nardil", "2025-03-01", 30), Fill("sertraline", "2025-03-10", 30)], ruleset)
    con.execute(
        "INSERT INTO runs (run_id, as_of, finished_at, status, parameters) VALUES ('r1', '2025-03-20', now(), "
        "'success', $p)",
        {"p": json.dumps({"episodes": {"end_convention": convention}})},
    )
    alert_night(con, ruleset, "2025-03-20")
    ((alert_id,),) = rows(con, "SELECT alert_id FROM alerts")
    ends = {f["product"]: str(f["supply_end"]) for f in alerts.alert_detail(con, alert_id)["fills"]}
    assert ends["Nardil"] == supply_end
