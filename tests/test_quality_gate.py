"""The data-quality gate over the night's profile: every check passes on a good extract and fails, with its
sentence, on a realistic broken one (README, "The data-quality gate"). Nights are built by hand: claims
inserted for a run, mapped by the real normaliser, then judged by Great Expectations (transforms.quality).
None of these checks is implied by the row checks: every broken extract here passes them row by row."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from serosurv.core.config import GateChecks, Limit, ValidationConfig
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import load_rules
from transforms import normalise, quality
from transforms.sql import insert_frame

NIGHT = date(2025, 6, 30)
N = 600  # claims in a good night: enough for every share ([validation] min_claims_for_shares = 500)
DRUGS = [
    "sertraline 50 mg tablet",
    "lisinopril 10 mg tablet",
    "metformin 500 mg tablet",
    "atorvastatin 20 mg",
]


def good_night(n: int = N, night: date = NIGHT) -> list[dict]:
    """A plain night: 2 claims per patient, a quarter of them sertraline, prescribers and pharmacies known,
    30-day supplies filled in the last week, 1 in 50 reversed."""
    return [
        {
            "claim_id": f"{night:%Y%m%d}-C{i:05d}",
            "patient_id": f"P{i // 2:05d}",
            "fill_date": night - timedelta(days=i % 7),
            "days_supply": 30,
            "drug_name": DRUGS[i % 4],
            "ndc": None,
            "prescriber_id": f"D{i % 40}",
            "pharmacy_id": f"PH{i % 15}",
            "claim_status": "reversed" if i % 50 == 49 else "paid",
        }
        for i in range(n)
    ]


def load(con, claims: list[dict], run_id: str, quarantined: int = 0, reason: str = "bad_ndc") -> None:
    frame = pl.DataFrame(claims).with_columns(run_id=pl.lit(run_id))
    insert_frame(con, "claims", frame)
    if quarantined:
        bad = pl.DataFrame(
            {
                "source_file": ["night.csv"] * quarantined,
                "source_row": list(range(2, quarantined + 2)),
                "raw": ["{}"] * quarantined,
                "reason_code": [reason] * quarantined,
                "reason": ["ndc 'x' is not an NDC"] * quarantined,
                "run_id": [run_id] * quarantined,
            }
        )
        insert_frame(con, "quarantine", bad)
    normalise.map_ingredients(con, load_rules(), run_id)


def judge(
    con, claims, run_id="tonight", night=NIGHT, quarantined=0, limits=None, absent=(), reason="bad_ndc"
):
    load(con, claims, run_id, quarantined, reason)
    return quality.run_gate(
        con, run_id, night, limits or ValidationConfig(), rows_read=len(claims) + quarantined, absent=absent
    )


def history(con, nights: int = 3, make=good_night) -> None:
    """Earlier successful nights with good extracts, recorded as the nightly run records them."""
    for k in range(nights, 0, -1):
        night = NIGHT - timedelta(days=k)
        run_id = f"earlier-{k}"
        judge(con, make(night=night), run_id=run_id, night=night)
        con.execute(
            "insert into runs (run_id, as_of, status, finished_at) values ($r, $n, 'success', $f)",
            {"r": run_id, "n": night, "f": datetime(2025, 1, 1) + timedelta(days=30 - k)},
        )


def status(result, check: str) -> str:
    return next(r["status"] for r in result.results if r["check_name"] == check)


def message(result, check: str) -> str:
    return next(r["message"] for r in result.results if r["check_name"] == check)


def test_a_good_night_passes_every_check_it_can_judge(warehouse):
    history(warehouse)
    result = judge(warehouse, good_night())
    assert result.success, result.summary()
    judged = {r["check_name"]: r["status"] for r in result.results if r["status"] != "not_judged"}
    assert set(judged.values()) == {"passed"}, judged
    # every check of the suite is judged on a good night with history, except the two about codes (the good
    # night's claims carry only names; coded_night below judges them)
    assert set(judged) == {"empty_night", *(c.name for c in quality.CHECKS)} - {
        "code_only_mapped_share",
        "code_vs_name_share",
    }
    assert result.summary() == f"all {len(judged)} data-quality checks passed"
    recorded = warehouse.execute(
        "select count(*), bool_and(success) from dq_results where run_id = 'tonight'"
    ).fetchall()
    assert recorded == [(len(quality.CHECKS) + 1, True)]


def shifted_names(night=NIGHT):
    """The drug name column holds the prescriber's id (a column shifted by one)."""
    return [{**c, "drug_name": c["prescriber_id"]} for c in good_night(night=night)]


def ndc_only(night=NIGHT):
    """Claims coded only by 11-digit codes that no crosswalk knows (the pharmacy system's own item numbers
    in the NDC column; labeler 50000 has no product in RxNorm)."""
    return [
        {**c, "drug_name": None, "ndc": f"{50000000000 + i:011d}"}
        for i, c in enumerate(good_night(night=night))
    ]


def dates_as_names(night=NIGHT):
    """Most drug names are dates (a shifted column), a few claims still name a drug."""
    return [
        {**c, "drug_name": c["drug_name"] if i % 40 == 0 else str(c["fill_date"])}
        for i, c in enumerate(good_night(night=night))
    ]


BROKEN = {
    # check: (broken extract, what its sentence starts with, the advice it gives)
    "rule_mapped_share": (
        shifted_names,
        "0.0% of the 588 paid claims map to a drug the rules know (a serotonergic or other rule ingredient); "
        "the night stops below 0.1% ([validation.checks] rule_mapped_share.stop = 0.001).",
        "a shifted column maps nothing",
    ),
    "code_only_mapped_share": (
        ndc_only,
        "0.0% of the 588 paid claims that carry only a code (NDC or RxNorm, no drug name) map to a rule "
        "ingredient; the night stops below 0.1% ([validation.checks] code_only_mapped_share.stop = 0.001).",
        "serosurv reference import-ndc PATH",
    ),
    "recognised_share": (
        dates_as_names,
        "2.6% of the 588 paid claims with a drug name name a drug serosurv recognises; the night stops below "
        "5.0% ([validation.checks] recognised_share.stop = 0.05).",
        "the drug name column holds something else",
    ),
    "reversal_share": (
        lambda: [
            {**c, "claim_status": "reversed" if i % 5 < 2 else "paid"} for i, c in enumerate(good_night())
        ],
        "40.0% of the 600 accepted claims are reversals or adjustments; the night stops above 30.0% "
        "([validation.checks] reversal_share.stop = 0.3).",
        "claim status column",
    ),
    "newest_fill_lag_days": (
        lambda: good_night(night=NIGHT - timedelta(days=365)),
        "The newest claim of the night was filled 365 days before the night (2024-06-30); the night stops "
        "above 60 days ([validation.checks] newest_fill_lag_days.stop = 60).",
        "--as-of 2024-06-30 or later",
    ),
    "patients_per_claim": (
        lambda: [{**c, "patient_id": "UNKNOWN"} for c in good_night()],
        "The 600 accepted claims belong to 1 patients (0.002 patients per claim); the night stops below 0.002 "
        "([validation.checks] patients_per_claim.stop = 0.002).",
        "merges everyone into one patient",
    ),
    "long_supply_share": (
        lambda: [{**c, "days_supply": 180 if i % 3 == 0 else 30} for i, c in enumerate(good_night())],
        "33.3% of the paid claims supply more than 120 days; the night stops above 20.0% "
        "([validation.checks] long_supply_share.stop = 0.2).",
        "quantities or dates read as days supply",
    ),
}


@pytest.mark.parametrize("check", sorted(BROKEN))
def test_each_absolute_check_stops_its_broken_extract_with_its_sentence(warehouse, check):
    make, sentence, advice = BROKEN[check]
    result = judge(warehouse, make())
    assert not result.success
    assert status(result, check) == "stopped"
    assert message(result, check).startswith(sentence), message(result, check)
    assert advice in message(result, check)
    assert message(result, check) in result.summary()


def test_the_quarantine_rate_stops_a_night_of_shifted_rows(warehouse):
    result = judge(warehouse, good_night(), quarantined=100)  # 100 of 700 rows quarantined
    assert status(result, "quarantine_rate") == "stopped"
    assert message(result, "quarantine_rate") == (
        "14.3% of the 700 rows read were quarantined; the night stops above 5.0% ([validation.checks] "
        "quarantine_rate.stop = 0.05). Most are bad_ndc (100). Look at the quarantine (serosurv quarantine list "
        "--run tonight): a broken, shifted or partial extract is the usual cause."
    )
    # a few bad rows only warn
    warehouse.execute("delete from claims; delete from quarantine")
    assert (
        status(judge(warehouse, good_night(), run_id="again", quarantined=20), "quarantine_rate") == "warning"
    )


def test_quarantined_old_dates_name_the_setting_that_keeps_them(warehouse):
    """Whole-life histories (Synthea) have real fills before 2000: the gate names earliest_fill_date."""
    result = judge(warehouse, good_night(), quarantined=177, reason="implausible_fill_date")
    assert status(result, "quarantine_rate") == "stopped"
    assert (
        "Most are implausible_fill_date (177); if those dates are real (whole-life histories, old records), set "
        "[validation] earliest_fill_date earlier. Look at the quarantine"
    ) in message(result, "quarantine_rate")


def test_missing_prescribers_warn_and_a_source_without_them_is_not_judged(warehouse):
    claims = [
        {**c, "prescriber_id": None if i % 2 else c["prescriber_id"]} for i, c in enumerate(good_night())
    ]
    result = judge(warehouse, claims)
    assert result.success and status(result, "known_prescriber_share") == "warning"
    assert message(result, "known_prescriber_share").startswith(
        "50.0% of the 600 accepted claims name their prescriber; the night warns below 90.0% "
        "([validation.checks] known_prescriber_share.warn = 0.9). Without prescribers, fragmented care"
    )
    none = judge(
        warehouse,
        [{**c, "prescriber_id": None} for c in good_night()],
        run_id="r2",
        absent=("prescriber_id",),
    )
    assert status(none, "known_prescriber_share") == "not_judged"
    assert message(none, "known_prescriber_share") == (
        "Not judged: the source does not carry prescribers (declared by its input format or [source] absent_fields)."
    )
    assert none.success and "prescriber_id" in none.profile["absent_fields"]


def test_missing_pharmacies_warn(warehouse):
    result = judge(warehouse, [{**c, "pharmacy_id": None} for c in good_night()])
    assert result.success and status(result, "known_pharmacy_share") == "warning"
    assert '[source] absent_fields = ["pharmacy_id"]' in message(result, "known_pharmacy_share")


TRENDS = {
    # check: (tonight's extract after three good nights, level reached, sentence start)
    "volume_trend": (
        lambda: good_night(n=100),
        "stopped",
        "The night read 100 rows against a median of 600 over the earlier nights; the night stops outside 120 to "
        "3,000 (1/5 to 5 times the median of earlier nights, 600) ([validation.checks] volume_trend.stop = 5).",
    ),
    "rule_mapped_share_trend": (
        lambda: [
            {**c, "drug_name": "lisinopril 10 mg tablet" if i % 25 else c["drug_name"]}
            for i, c in enumerate(good_night())
        ],
        "stopped",
        "1.0% of the paid claims map to a rule ingredient against a median of 25.5% over the earlier nights; "
        "the night stops outside 5.1% to 100.0%",
    ),
    "known_prescriber_share_trend": (
        lambda: [
            {**c, "prescriber_id": c["prescriber_id"] if i % 5 < 2 else None}
            for i, c in enumerate(good_night())
        ],
        "stopped",
        "40.0% of the accepted claims name their prescriber against a median of 100.0% over the earlier nights",
    ),
    "known_pharmacy_share_trend": (
        lambda: [
            {**c, "pharmacy_id": c["pharmacy_id"] if i % 5 < 2 else None} for i, c in enumerate(good_night())
        ],
        "stopped",
        "40.0% of the accepted claims name their pharmacy against a median of 100.0% over the earlier nights",
    ),
    "patients_per_claim_trend": (
        lambda: [{**c, "patient_id": f"P{i // 10:05d}"} for i, c in enumerate(good_night())],
        "stopped",
        "The night has 0.100 patients per claim against a median of 0.500 over the earlier nights",
    ),
    "median_days_supply_trend": (
        lambda: [{**c, "days_supply": 4} for c in good_night()],  # weeks read as days
        "stopped",
        "The median days supply is 4 days against a median of 30 days over the earlier nights",
    ),
}


@pytest.mark.parametrize("check", sorted(TRENDS))
def test_each_trend_check_stops_a_night_unlike_the_earlier_ones(warehouse, check):
    history(warehouse)
    make, level, sentence = TRENDS[check]
    result = judge(warehouse, make())
    assert status(result, check) == level, message(result, check)
    assert message(result, check).startswith(sentence), message(result, check)


def test_a_doubled_extract_warns(warehouse):
    history(warehouse)
    result = judge(warehouse, good_night(n=1300))
    assert result.success and status(result, "volume_trend") == "warning"
    assert "the night warns outside 300 to 1,200" in message(result, "volume_trend")


def test_trends_wait_for_enough_earlier_nights_and_small_nights_are_not_judged_on_shares(warehouse):
    history(warehouse, nights=2)
    result = judge(warehouse, good_night(n=100))
    assert status(result, "volume_trend") == "not_judged"
    assert message(result, "volume_trend") == (
        "Not judged: 2 earlier night(s) recorded; trends need 3 ([validation] min_history_nights)."
    )
    assert status(result, "rule_mapped_share") == "not_judged"
    assert message(result, "rule_mapped_share") == (
        "Not judged: 98 claims are too few to judge ([validation] min_claims_for_shares = 500)."
    )
    assert result.success
    # the night's one line never reads a bare "all checks passed" when most checks could not be made
    left = sum(r["status"] == "not_judged" for r in result.results)
    assert result.summary().endswith(
        f"; {left} other checks were not judged: 98 claims are too few to judge ([validation] "
        "min_claims_for_shares = 500)."
    ), result.summary()


def test_an_empty_night_warns_by_default_and_stops_when_configured(warehouse):
    result = judge(warehouse, [])
    assert result.success and status(result, "empty_night") == "warning"
    assert message(result, "empty_night") == (
        "The night has no new claims (0 rows read); it goes on: alerts age and resolve as on any night "
        "([validation] empty_night). A holiday extract is empty; a missing one is not: check the file."
    )
    assert {r["status"] for r in result.results if r["check_name"] != "empty_night"} == {"not_judged"}
    stopped = judge(warehouse, [], run_id="r2", limits=ValidationConfig(empty_night="stop"))
    assert not stopped.success and status(stopped, "empty_night") == "stopped"


def test_levels_are_settings_and_turning_one_off_stops_judging_it(warehouse):
    off = ValidationConfig(checks=GateChecks(reversal_share=Limit(0.0, 0.0)))
    claims = [{**c, "claim_status": "reversed" if i % 5 < 2 else "paid"} for i, c in enumerate(good_night())]
    result = judge(warehouse, claims, limits=off)
    assert status(result, "reversal_share") == "not_judged" and result.success
    with pytest.raises(SerosurvError, match=r"validation.checks.volume_trend.stop' is a factor"):
        GateChecks(volume_trend=Limit(2.0, 0.5))
    with pytest.raises(SerosurvError, match=r"validation.checks.reversal_share.warn' is a share"):
        GateChecks(reversal_share=Limit(10, 30))


# Real NDCs of the crosswalk shipped in rules/rxnorm/, checked by hand against NLM's RxNorm
# (../shared/reference/rxnorm/ndc_to_rxcui_all.csv.gz): Zoloft 50 mg (Pfizer, labeler 0049: 4-4-2), tramadol
# 50 mg (Teva, labeler 0093: 4-4-2), lisinopril 10 mg (Teva), metformin 500 mg (no rule ingredient).
CODED = {
    "sertraline 50 mg tablet": ("00049490030", "208161"),
    "tramadol 50 mg tablet": ("00093005801", "835603"),
    "lisinopril 10 mg tablet": ("00093111310", "314076"),
    "metformin 500 mg tablet": ("00093104801", "861007"),
}


def coded_night(night=NIGHT, code=lambda ndc, rxcui: {"ndc": ndc}):
    """Claims that carry a drug name and a code: 600 claims of sertraline and tramadol (every paid claim maps
    to a rule drug), plus 600 of lisinopril and metformin."""
    names = list(CODED)
    claims = good_night(n=1200, night=night)
    return [
        {
            **c,
            "drug_name": names[i % 2 if i < 600 else 2 + i % 2],
            **code(*CODED[names[i % 2 if i < 600 else 2 + i % 2]]),
        }
        for i, c in enumerate(claims)
    ]


def test_codes_that_map_beside_their_names_pass(warehouse):
    result = judge(warehouse, coded_night())
    assert status(result, "code_vs_name_share") == "passed"
    assert message(result, "code_vs_name_share") == (
        "100.0% of the 588 paid claims with both an NDC code and a drug name that map to a rule drug are mapped "
        "by that code alone (the weakest code column; the rest fall back to their names)."
    )
    mapped_by = warehouse.execute(
        "select mapped_by, count(distinct claim_id) from fill_ingredients group by all"
    ).fetchall()
    assert mapped_by == [("ndc", 600)]  # lisinopril and metformin map to nothing, by code or by name


def test_ten_digit_ndcs_are_read_with_the_crosswalk_and_pass(warehouse):
    """The same extract with its NDCs written as 10 digits without hyphens (the labeler's padding zero
    lost): each has one 11-digit reading the crosswalk knows, so they map."""
    result = judge(warehouse, coded_night(code=lambda ndc, rxcui: {"ndc": ndc[1:]}))
    assert status(result, "code_vs_name_share") == "passed"
    assert result.profile["ten_digit_ndc_claims"] == 1176  # every paid claim
    assert warehouse.execute(
        "select count(distinct claim_id) from fill_ingredients where mapped_by = 'ndc'"
    ).fetchall() == [(600,)]


def test_a_code_column_mapping_far_less_than_its_names_warns(warehouse):
    """The NDC column holds the pharmacy system's own 11-digit item numbers: every row passes the row
    checks, no code maps, the names map the rule drugs; the night goes on and says so."""
    result = judge(warehouse, coded_night(code=lambda ndc, rxcui: {"ndc": "5" + ndc[1:]}))
    assert result.success and status(result, "code_vs_name_share") == "warning"
    assert message(result, "code_vs_name_share").startswith(
        "0.0% of the 588 paid claims with both an NDC code and a drug name that map to a rule drug are mapped by "
        "that code alone (the weakest code column; the rest fall back to their names); the night warns below "
        "50.0% ([validation.checks] code_vs_name_share.warn = 0.5). The NDC codes map far less than the names "
        "beside them: check that the column holds NDC codes"
    )
    assert "serosurv reference import-ndc PATH" in message(result, "code_vs_name_share")
    assert message(result, "code_vs_name_share") in result.summary()
    assert not result.summary().startswith("all")
    # the claims are still mapped, by their names
    assert warehouse.execute(
        "select mapped_by, count(distinct claim_id) from fill_ingredients group by all"
    ).fetchall() == [("name", 600)]


def test_an_unknown_code_system_in_the_rxnorm_column_warns(warehouse):
    """The RxNorm column holds NDCs (another code system): nothing maps by it."""
    result = judge(warehouse, coded_night(code=lambda ndc, rxcui: {"rxcui": ndc}))
    assert status(result, "code_vs_name_share") == "warning"
    assert message(result, "code_vs_name_share").startswith(
        "0.0% of the 588 paid claims with both an RxNorm code and a drug name"
    )
    # and with real RxCUIs of the products (SBD and SCD codes), the codes map
    good = judge(warehouse, coded_night(code=lambda ndc, rxcui: {"rxcui": rxcui}), run_id="rxcuis")
    assert status(good, "code_vs_name_share") == "passed"


def test_the_weakest_code_column_is_judged_and_each_is_counted_per_source_file(warehouse):
    """NDCs that map beside an RxNorm column of internal ids: the NDCs map every rule-drug fill, so a share
    over both codes would pass; the gate judges the RxNorm column on its own and warns. night_mapping counts
    each field per source file (rule drugs in a.csv, the others in b.csv; 12 of each file's 600 claims are
    reversals, so 588 fills each)."""
    claims = [
        {**c, "rxcui": "9" + c["rxcui"] + "0", "source_file": "a.csv" if i < 600 else "b.csv"}
        for i, c in enumerate(coded_night(code=lambda ndc, rxcui: {"ndc": ndc, "rxcui": rxcui}))
    ]
    result = judge(warehouse, claims)
    assert status(result, "code_vs_name_share") == "warning"
    assert message(result, "code_vs_name_share").startswith(
        "0.0% of the 588 paid claims with both an RxNorm code and a drug name that map to a rule drug are mapped "
        "by that code alone"
    )
    rows = warehouse.execute(
        "select source_file, field, fills, field_maps, mapped_by_field, beside_name, beside_name_by_code "
        "from night_mapping where run_id = 'tonight' order by all"
    ).fetchall()
    assert rows == [
        (
            "a.csv",
            "drug_name",
            588,
            588,
            0,
            0,
            0,
        ),  # sertraline and tramadol names map, but their NDCs did first
        ("a.csv", "ndc", 588, 588, 588, 588, 588),
        ("a.csv", "rxcui", 588, 0, 0, 588, 0),
        ("b.csv", "drug_name", 588, 0, 0, 0, 0),  # lisinopril and metformin: no rule drug
        ("b.csv", "ndc", 588, 0, 0, 0, 0),
        ("b.csv", "rxcui", 588, 0, 0, 0, 0),
    ]
