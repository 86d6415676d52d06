"""Ongoing orders (issue 17, item 4): a start without stop date or days supply, marked `ongoing`, is exposure
from its start to the night, at most [episodes] ongoing_max_days days; a later night extends it, a stop
ends it. Hand-checked on one patient through the whole night (CSV in, interactions and alerts out).

The story: patient P1's tramadol order starts 2025-03-01 with no stop date (ongoing = true); a
pharmacy dispenses sertraline on 2025-03-10 for 30 days (covers 03-10..04-08). Sertraline + tramadol is
a rule pair, so they overlap from 03-10 to the night (or to the tramadol order's cap or stop).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from serosurv import api
from serosurv.cli.text import ONGOING_ORDER, alert_detail, patient_explanation

HEADER = "claim_id,patient_id,fill_date,days_supply,end_date,drug_name,prescriber_id,pharmacy_id,claim_status,original_claim_id,ongoing"
TRAMADOL = "T1,P1,2025-03-01,,,tramadol 50 mg,DR-A,,paid,,true"
SERTRALINE = "S1,P1,2025-03-10,30,,sertraline 50 mg,DR-B,PH1,paid,,"
# Another patient's claim, so that a later night has something to read without touching P1.
OTHER = "O1,P2,2025-03-25,30,,lisinopril 10 mg,DR-C,PH1,paid,,"
# Hand-made nights are tiny: the gate's share and lag checks are not what these tests are about.
OPEN_GATE = (
    "[validation.checks]\nquarantine_rate = { warn = 0.0, stop = 0.0 }\n"
    "newest_fill_lag_days = { warn = 0.0, stop = 0.0 }\n"
)


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return path


def night(tmp_path: Path, claims: Path, as_of: date, config: str = "", name: str = "w") -> api.NightResult:
    settings = tmp_path / f"{name}.toml"
    settings.write_text(OPEN_GATE + config)
    return api.run(
        [claims],
        out_dir=tmp_path / name,
        warehouse=tmp_path / name / "serosurv.duckdb",
        as_of=as_of,
        config_file=settings,
    )


def query(tmp_path: Path, sql: str, name: str = "w") -> list[tuple]:
    con = duckdb.connect(str(tmp_path / name / "serosurv.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def overlap(tmp_path: Path, name: str = "w") -> list[tuple]:
    return query(
        tmp_path,
        "SELECT ingredient_a, ingredient_b, first_overlap_date, last_overlap_date, overlap_days, "
        "cross_prescriber FROM interactions ORDER BY ALL",
        name,
    )


def test_an_ongoing_order_overlapping_a_filled_ssri_is_flagged_to_the_night(prefect_harness, tmp_path):
    claims = write(tmp_path / "claims.csv", TRAMADOL, SERTRALINE)
    result = night(tmp_path, claims, date(2025, 3, 31))
    assert result.counts["rows_quarantined"] == 0
    # Tramadol covers 03-01..03-31 (the night); sertraline 03-10..04-08: both on 03-10..03-31 = 22 days.
    assert overlap(tmp_path) == [("sertraline", "tramadol", date(2025, 3, 10), date(2025, 3, 31), 22, True)]
    assert query(tmp_path, "SELECT claim_id, ongoing, end_date, days_supply FROM claims ORDER BY 1") == [
        ("S1", False, None, 30),
        ("T1", True, None, None),
    ]
    assert query(
        tmp_path,
        "SELECT exposure_start, exposure_end, days_supply, ongoing FROM fill_exposure WHERE claim_id = 'T1'",
    ) == [(date(2025, 3, 1), date(2025, 3, 31), 31, True)]
    # The night's profile and report count the open-ended order.
    assert query(tmp_path, "SELECT ongoing_claims FROM night_profiles") == [(1,)]
    report = Path(result.reports["report"]).read_text(encoding="utf-8")
    assert "Ongoing orders (no stop date) accepted tonight: 1." in report
    # `alerts show` marks the order and explains it.
    ((alert_id,),) = query(tmp_path, "SELECT alert_id FROM alerts")
    text = alert_detail(api.show_alert(alert_id, warehouse=tmp_path / "w" / "serosurv.duckdb"))
    assert "2025-03-01..2025-03-31 +" in text
    assert f"+ {ONGOING_ORDER}" in text
    # `serosurv explain P1` says why the tramadol order reaches the night.
    found = api.explain_patient("P1", warehouse=tmp_path / "w" / "serosurv.duckdb")
    explained = patient_explanation(found)
    assert (
        "tramadol: covers 2025-03-01 to 2025-03-31 (an ongoing order (no stop date): counted to the night, "
        "at most episodes.ongoing_max_days = 90 days)" in " ".join(explained.split())
    )


def test_an_ongoing_order_is_capped_by_ongoing_max_days(prefect_harness, tmp_path):
    claims = write(tmp_path / "claims.csv", TRAMADOL, SERTRALINE)
    night(tmp_path, claims, date(2025, 3, 31), "[episodes]\nongoing_max_days = 10\n")
    # Tramadol covers 10 days, 03-01..03-10: it meets sertraline on 03-10 only.
    assert overlap(tmp_path) == [("sertraline", "tramadol", date(2025, 3, 10), date(2025, 3, 10), 1, True)]
    # 9 days: the order ends on 03-09, before sertraline starts; no interaction.
    night(tmp_path, claims, date(2025, 3, 31), "[episodes]\nongoing_max_days = 9\n", name="nine")
    assert overlap(tmp_path, "nine") == []


def test_an_ongoing_order_ended_by_a_later_stop(prefect_harness, tmp_path):
    """The stop arrives on a later night as an adjustment of the order carrying its stop date."""
    first = write(tmp_path / "first.csv", TRAMADOL, SERTRALINE)
    night(tmp_path, first, date(2025, 3, 20))
    assert overlap(tmp_path) == [("sertraline", "tramadol", date(2025, 3, 10), date(2025, 3, 20), 11, True)]
    stop = write(tmp_path / "stop.csv", "T1-STOP,P1,2025-03-01,,2025-03-15,tramadol 50 mg,DR-A,,adjusted,T1,")
    second = night(tmp_path, stop, date(2025, 3, 31))
    assert second.counts["patients_recomputed"] == 1
    # Tramadol 03-01..03-15 (the stop), sertraline from 03-10: 6 days, and no longer growing.
    assert overlap(tmp_path) == [("sertraline", "tramadol", date(2025, 3, 10), date(2025, 3, 15), 6, True)]
    assert query(tmp_path, "SELECT ongoing_claims FROM night_profiles ORDER BY as_of") == [(1,), (0,)]


def test_the_next_incremental_night_extends_an_ongoing_order(prefect_harness, tmp_path):
    """P1 has no new claim on the second night, yet the order reaches the new night; the incremental night
    gives what a full recompute gives."""
    first = write(tmp_path / "first.csv", TRAMADOL, SERTRALINE)
    later = write(tmp_path / "later.csv", OTHER)
    for name, config in (("quick", ""), ("full", "[engine]\nincremental = false\n")):
        night(tmp_path, first, date(2025, 3, 20), config, name)
        assert overlap(tmp_path, name) == [
            ("sertraline", "tramadol", date(2025, 3, 10), date(2025, 3, 20), 11, True)
        ]
        result = night(tmp_path, later, date(2025, 3, 31), config, name)
        assert overlap(tmp_path, name) == [
            ("sertraline", "tramadol", date(2025, 3, 10), date(2025, 3, 31), 22, True)
        ]
    assert result.counts.get("patients_recomputed") is None  # the full one
    assert query(tmp_path, "SELECT recompute FROM runs ORDER BY as_of", "quick") == [
        ("full",),
        ("incremental",),
    ]
    # P2's new claim and P1's growing order: both recomputed.
    con = duckdb.connect()
    for name in ("quick", "full"):
        con.execute(f"ATTACH '{tmp_path / name / 'serosurv.duckdb'}' AS {name}_run (READ_ONLY)")
    for table in ("fill_exposure", "episodes", "interactions", "serotonergic_burden"):
        differ = con.execute(
            f"SELECT count(*) FROM (SELECT * FROM quick_run.{table} EXCEPT ALL SELECT * FROM full_run.{table})"
        ).fetchall()[0][0]
        assert (table, differ) == (table, 0)
    assert con.execute("SELECT overlap_days, status FROM quick_run.alerts").fetchall() == [(22, "ongoing")]
    con.close()


def test_once_capped_an_ongoing_order_no_longer_makes_its_patient_recomputed(prefect_harness, tmp_path):
    first = write(tmp_path / "first.csv", TRAMADOL, SERTRALINE)
    later = write(tmp_path / "later.csv", OTHER)
    capped = "[episodes]\nongoing_max_days = 15\n"
    night(tmp_path, first, date(2025, 3, 20), capped)  # tramadol 03-01..03-15: capped already
    result = night(tmp_path, later, date(2025, 3, 31), capped)
    assert result.counts["patients_recomputed"] == 1  # P2 only
    assert overlap(tmp_path) == [("sertraline", "tramadol", date(2025, 3, 10), date(2025, 3, 15), 6, True)]


def test_open_ended_needs_the_ongoing_mark_and_the_mark_must_be_a_yes_or_no(prefect_harness, tmp_path):
    claims = write(
        tmp_path / "claims.csv",
        "A,P1,2025-03-01,,,tramadol,DR-A,,paid,,",  # no end, no supply, not marked: missing_supply
        "B,P1,2025-03-01,,,tramadol,DR-A,,paid,,maybe",  # bad_ongoing
        "C,P1,2025-03-01,,,tramadol,DR-A,,paid,,YES",
        "D,P1,2025-03-01,,,tramadol,DR-A,,paid,,no",  # explicitly not ongoing: missing_supply
        "E,P1,2025-03-01,5,,tramadol,DR-A,,paid,,1",  # a given supply wins: not open-ended
    )
    result = night(tmp_path, claims, date(2025, 3, 31))
    assert (result.counts["rows_accepted"], result.counts["rows_quarantined"]) == (2, 3)
    assert query(tmp_path, "SELECT source_row, reason_code, reason FROM quarantine ORDER BY 1") == [
        (
            1,
            "missing_supply",
            "neither days_supply nor end_date is given (nor ongoing = true, for an order without a stop date)",
        ),
        (2, "bad_ongoing", "ongoing 'maybe' is not true or false (true, yes, 1 / false, no, 0)"),
        (
            4,
            "missing_supply",
            "neither days_supply nor end_date is given (nor ongoing = true, for an order without a stop date)",
        ),
    ]
    assert query(tmp_path, "SELECT claim_id, ongoing FROM claims ORDER BY 1") == [("C", True), ("E", False)]


def test_ongoing_max_days_must_be_at_least_one(tmp_path):
    from serosurv.core.config import load_config
    from serosurv.core.errors import SerosurvError

    path = tmp_path / "c.toml"
    path.write_text("[episodes]\nongoing_max_days = 0\n")
    with pytest.raises(SerosurvError, match=r"^Setting 'episodes.ongoing_max_days' must be at least 1"):
        load_config(path)
