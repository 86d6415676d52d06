"""A claim id is unique per source and patient (issue 17, item 5): the same id on two patients is two
claims, twice on one patient a duplicate; a reversal cancels the claim of that id on its own patient only.
Hand-checked answers: every row below is read by hand in the comments."""

from __future__ import annotations

from datetime import date

import duckdb

from serosurv import api
from tests.conftest import write_csv
from transforms import ingest, validate

HEADER = (
    "claim_id,patient_id,fill_date,days_supply,ndc,drug_name,quantity,prescriber_id,pharmacy_id,"
    "claim_status,original_claim_id"
)
AS_OF = date(2025, 3, 31)


def rows(con, sql):
    return con.execute(sql).fetchall()


def test_validation_keys_claims_by_patient_and_claim_id(warehouse, tmp_path):
    for night in ("n1", "n2"):
        (tmp_path / night).mkdir()
    night_1 = write_csv(
        tmp_path / "n1" / "claims.csv",
        HEADER,
        "C1,P1,2025-03-01,30,,sertraline,30,D1,PH1,paid,",  # row 1
        "C1,P2,2025-03-01,30,,fentanyl,5,D2,PH2,paid,",  # row 2: another patient's claim C1, accepted
        "C1,P1,2025-03-02,30,,tramadol,30,D1,PH1,paid,",  # row 3: C1 again on P1, a duplicate of row 1
    )
    ingest.stage_claims(warehouse, [night_1], tmp_path / "staged1")
    counts = validate.check_claims(warehouse, "r1", AS_OF, "2000-01-01")
    assert (counts.rows_read, counts.rows_accepted, counts.rows_quarantined) == (3, 2, 1)
    assert rows(warehouse, "SELECT patient_id, claim_id, drug_name FROM claims ORDER BY 1") == [
        ("P1", "C1", "sertraline"),
        ("P2", "C1", "fentanyl"),
    ]
    assert rows(warehouse, "SELECT source_row, reason_code, reason FROM quarantine") == [
        (3, "duplicate_claim_id", f"claim_id repeats the claim of the same patient at {night_1} row 1")
    ]

    # A later night: C1 of a third patient is new; C1 of P2 was loaded for P2 already.
    night_2 = write_csv(
        tmp_path / "n2" / "claims.csv",
        HEADER,
        "C1,P3,2025-03-05,30,,sertraline,30,D3,PH3,paid,",
        "C1,P2,2025-03-01,30,,fentanyl,5,D2,PH2,paid,",
    )
    ingest.stage_claims(warehouse, [night_2], tmp_path / "staged2")
    counts = validate.check_claims(warehouse, "r2", AS_OF, "2000-01-01")
    assert (counts.rows_accepted, counts.rows_quarantined) == (1, 1)
    assert rows(warehouse, "SELECT patient_id FROM claims WHERE run_id = 'r2'") == [("P3",)]
    assert rows(warehouse, "SELECT source_row, reason_code, reason FROM quarantine WHERE run_id = 'r2'") == [
        (2, "already_loaded", "claim_id was loaded for the same patient by an earlier night")
    ]


def test_the_same_claim_id_on_two_patients_is_two_claims_end_to_end(prefect_harness, tmp_path):
    """The issue's case: two members' claims numbered alike. P2's fentanyl fill (claim 7) is kept and its
    interaction with sertraline found; P1's reversal of its claim 7 cancels P1's fentanyl only."""
    claims = write_csv(
        tmp_path / "claims.csv",
        HEADER,
        "S1,P1,2025-03-01,30,,sertraline 50 mg,30,D1,PH1,paid,",  # row 1 (source rows are data rows, from 1)
        "7,P1,2025-03-10,10,,fentanyl patch,5,D2,PH1,paid,",  # row 2: reversed by row 5
        "S1,P2,2025-03-01,30,,sertraline 50 mg,30,D3,PH2,paid,",  # row 3: P2's own S1
        "7,P2,2025-03-10,10,,fentanyl patch,5,D4,PH2,paid,",  # row 4: P2's own 7, the fill once lost
        "R7,P1,2025-03-10,10,,fentanyl patch,5,D2,PH1,reversed,7",  # row 5: reverses P1's 7
        "7,P2,2025-03-12,10,,fentanyl patch,5,D4,PH2,paid,",  # row 6: 7 again on P2: a duplicate
    )
    config = tmp_path / "serosurv.toml"  # one duplicate in six rows: the gate's quarantine rate is off here
    config.write_text("[validation.checks]\nquarantine_rate = { warn = 0.0, stop = 0.0 }\n")
    result = api.run(
        [claims], as_of=AS_OF, out_dir=tmp_path / "out", warehouse=tmp_path / "w.duckdb", config_file=config
    )
    assert (
        result.counts["rows_read"],
        result.counts["rows_accepted"],
        result.counts["rows_quarantined"],
    ) == (
        6,
        5,
        1,
    )
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        assert rows(con, "SELECT source_row, reason_code FROM quarantine") == [(6, "duplicate_claim_id")]
        # fentanyl + sertraline (R48, moderate): P2 only, sertraline 03-01..03-30 and fentanyl 03-10..03-19
        # overlap 10 days; prescribers D4 and D3 differ.
        assert rows(
            con,
            "SELECT patient_id, ingredient_a, ingredient_b, rule_id, severity, first_overlap_date, "
            "last_overlap_date, overlap_days, claim_ids_a, claim_ids_b, cross_prescriber FROM interactions",
        ) == [
            (
                "P2",
                "fentanyl",
                "sertraline",
                "R48",
                "moderate",
                date(2025, 3, 10),
                date(2025, 3, 19),
                10,
                ["7"],
                ["S1"],
                True,
            )
        ]
        # P1's fentanyl was cancelled by its reversal; P2's claim 7 was not.
        assert rows(
            con, "SELECT patient_id, claim_id FROM fill_exposure WHERE ingredient = 'fentanyl' ORDER BY 1"
        ) == [("P2", "7")]
        assert rows(
            con,
            "SELECT patient_id, claim_id, ingredient FROM fill_ingredients ORDER BY 1, 2",
        ) == [
            ("P1", "7", "fentanyl"),
            ("P1", "R7", "fentanyl"),
            ("P1", "S1", "sertraline"),
            ("P2", "7", "fentanyl"),
            ("P2", "S1", "sertraline"),
        ]
    finally:
        con.close()
