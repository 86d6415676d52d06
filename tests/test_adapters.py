"""Input adapters on small hand-written samples in each source's own layout (tests/data/adapters/).

Each test adapts, then stages and validates with the real transforms (no flow), and checks that every
source row reconciles and lands where the adapter's documentation says.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from serosurv.core.errors import SerosurvError
from serosurv.core.rules import load_rules
from tests.conftest import write_csv
from transforms import ingest, validate
from transforms.adapters import FORMATS, adapt

DATA = Path(__file__).parent / "data" / "adapters"
AS_OF = date(2200, 1, 1)


def load(con, fmt, claims, patients=None, tmp_path=None, earliest="1950-01-01"):
    adapted = adapt(fmt, claims, patients, tmp_path / "adapted")
    read = ingest.stage_claims(con, adapted.claims, tmp_path / "staged", adapted=True)
    counts = validate.check_claims(con, "r1", AS_OF, earliest)
    assert read == counts.rows_accepted + counts.rows_quarantined  # every row reconciles
    return adapted, counts


def claims(con, *columns):
    return {r[0]: r[1:] for r in con.execute(f"SELECT claim_id, {', '.join(columns)} FROM claims").fetchall()}


def quarantined(con):
    return {
        r[0]: r[1:]
        for r in con.execute("SELECT source_row, reason_code, reason, raw FROM quarantine").fetchall()
    }


# ---------------------------------------------------------------------------- MIMIC-IV


def test_mimic_orders_become_claims_with_dates_routes_and_prescribers(warehouse, tmp_path):
    src = DATA / "mimic-iv"
    adapted, counts = load(warehouse, "mimic-iv", [src / "prescriptions.csv"], src / "patients.csv", tmp_path)
    assert (counts.rows_accepted, counts.rows_quarantined) == (7, 3)
    got = claims(
        warehouse,
        "patient_id",
        "fill_date",
        "end_date",
        "drug_name",
        "ndc",
        "prescriber_id",
        "pharmacy_id",
        "rx_reference",
    )
    assert got["30000001"] == (
        "10000001",
        date(2180, 5, 1),
        date(2180, 5, 10),
        "Sertraline [PO/NG]",
        "51079076220",
        "P11AAA",
        None,
        "10000001-11",
    )
    # Missing stop time: a one-day order; missing prescriber: unknown; ndc "0": none.
    assert got["30000003"][1:3] == (date(2180, 5, 4), date(2180, 5, 4))
    assert got["30000003"][4:6] == (None, None)
    # Stop before start (12 h earlier): the start day is the last day.
    assert got["30000005"][1:3] == (date(2180, 5, 8), date(2180, 5, 8))
    # An ADDITIVE is a drug given to the patient (ondansetron in a bag): kept, with its own claim id.
    assert got["30000006:ADDITIVE:8"][3] == "Ondansetron [IV]"


def test_mimic_base_rows_are_pre_rejected_with_lineage(warehouse, tmp_path):
    src = DATA / "mimic-iv"
    load(warehouse, "mimic-iv", [src / "prescriptions.csv"], None, tmp_path)
    rows = quarantined(warehouse)
    assert {row: code for row, (code, _, _) in rows.items()} == {
        5: "not_a_drug_order",
        9: "not_a_drug_order",
        10: "bad_fill_date",
    }
    assert rows[9][1] == (
        "drug_type BASE: 0.9% Sodium Chloride (Mini Bag Plus) is the diluent of an infusion order, not a drug order"
    )
    raw = json.loads(rows[5][2])
    assert raw["drug_type"] == "BASE" and raw["pharmacy_id"] == "30000004"
    files = warehouse.execute("SELECT DISTINCT source_file FROM quarantine").fetchall()
    assert files == [(str((src / "prescriptions.csv").resolve()),)]


def test_mimic_patients_give_birth_year_and_sex(tmp_path):
    src = DATA / "mimic-iv"
    adapted = adapt("mimic-iv", [src / "prescriptions.csv"], src / "patients.csv", tmp_path)
    rows = duckdb.execute(
        "SELECT * FROM read_parquet($p) ORDER BY 1", {"p": str(adapted.patients)}
    ).fetchall()
    assert rows == [("10000001", 2128, "F", None, None), ("10000002", 2114, "M", None, None)]


# ---------------------------------------------------------------------------- OMOP


def test_omop_folder_maps_concepts_codes_and_supplies(warehouse, tmp_path):
    adapted, counts = load(warehouse, "omop", [DATA / "omop"], None, tmp_path)
    assert (counts.rows_accepted, counts.rows_quarantined) == (4, 1)
    got = claims(
        warehouse,
        "patient_id",
        "fill_date",
        "days_supply",
        "end_date",
        "drug_name",
        "rxcui",
        "ndc",
        "quantity",
        "prescriber_id",
    )
    assert got["1"] == (
        "1",
        date(2020, 1, 1),
        None,
        date(2020, 1, 30),
        "sertraline 50 MG Oral Tablet",
        "312941",
        "00093715001",
        30.0,
        "10",
    )
    assert got["2"][5:8] == ("835603", None, None)  # drug_source_value 835603 is no NDC; quantity 0 = unknown
    assert got["3"][2:4] == (None, date(2021, 3, 7))  # 371-day supply: the end date decides
    assert got["3"][7] is None  # provider_id 0 = unknown
    assert got["4"][1:4] == (date(2019, 6, 1), 30, None)  # no end date: the days supply is used
    assert quarantined(warehouse)[5][0] == "missing_drug"  # concept 999999 is not in concept.csv


def test_omop_one_time_administration_is_one_day_of_exposure(warehouse, tmp_path):
    folder = tmp_path / "omop"
    folder.mkdir()
    (folder / "concept.csv").write_text((DATA / "omop" / "concept.csv").read_text())
    header = (DATA / "omop" / "drug_exposure.csv").read_text().splitlines()[0]
    rows_ = [
        # an inpatient administration with no end date and no days supply: the day it was given
        "7,1,40231926,2020-03-01,,,,,38000180,,,1,,,,,10,100,,,,,",
        # a prescription written with neither: no supply to place (quarantined, missing_supply)
        "8,1,40231926,2020-03-02,,,,,38000177,,,,,,,,10,100,,,,,",
    ]
    (folder / "drug_exposure.csv").write_text("\n".join([header, *rows_]) + "\n")
    _, counts = load(warehouse, "omop", [folder], None, tmp_path)
    assert claims(warehouse, "fill_date", "end_date") == {"7": (date(2020, 3, 1), date(2020, 3, 1))}
    assert [reason for reason, *_ in quarantined(warehouse).values()] == ["missing_supply"]


def test_omop_person_and_observation_period_give_patients(tmp_path):
    adapted = adapt("omop", [DATA / "omop" / "drug_exposure.csv"], None, tmp_path)
    rows = duckdb.execute("SELECT * FROM read_parquet($p)", {"p": str(adapted.patients)}).fetchall()
    assert rows == [
        ("1", 1970, "F", date(2015, 1, 1), date(2021, 12, 31)),
        ("2", 1955, "M", date(1985, 1, 1), date(2022, 1, 1)),
    ]


def test_omop_without_concept_table_is_refused(tmp_path):
    folder = tmp_path / "cdm"
    folder.mkdir()
    (folder / "DRUG_EXPOSURE.csv").write_text((DATA / "omop" / "drug_exposure.csv").read_text())
    with pytest.raises(SerosurvError, match="concept table"):
        adapt("omop", [folder], None, tmp_path / "out")


# ---------------------------------------------------------------------------- SCDM


def test_scdm_dispensing_codes_dates_and_unknown_providers(warehouse, tmp_path):
    src = DATA / "scdm"
    adapted, counts = load(
        warehouse, "scdm", [src / "dispensing.csv", src / "enrollment.csv"], src / "demographic.csv", tmp_path
    )
    assert (counts.rows_accepted, counts.rows_quarantined) == (4, 1)
    got = sorted(
        warehouse.execute(
            "SELECT source_row, fill_date, ndc, rxcui, days_supply, quantity, prescriber_id FROM claims"
        ).fetchall()
    )
    assert got == [
        (1, date(2021, 1, 15), "00093715001", None, 30, 30.0, "5001"),
        (2, date(2021, 1, 20), None, "835603", 10, 40.0, None),  # ProviderID .U = unknown
        (3, date(2021, 1, 30), "00093715001", None, 30, 30.0, "5002"),  # SAS day 22310
        (4, date(2021, 1, 30), "00093715001", None, 30, 30.0, "5002"),  # identical row: its own claim id
    ]
    assert quarantined(warehouse)[5][:2] == (
        "unsupported_code_type",
        "Rx_CodeType 'AT' is not supported (ND = NDC or RN = RxNorm)",
    )
    people = duckdb.execute("SELECT * FROM read_parquet($p)", {"p": str(adapted.patients)}).fetchall()
    assert people == [
        ("1001", 1961, "F", date(2020, 1, 1), date(2021, 12, 31)),
        ("1002", 1957, "M", None, None),
    ]


def test_scdm_claim_ids_are_stable_across_reads(tmp_path):
    src = DATA / "scdm" / "dispensing.csv"
    first = adapt("scdm", [src], None, tmp_path / "a").claims[0]
    second = adapt("scdm", [src], None, tmp_path / "b").claims[0]
    ids = "SELECT claim_id FROM read_parquet($p) ORDER BY source_row"
    assert (
        duckdb.execute(ids, {"p": str(first)}).fetchall()
        == duckdb.execute(ids, {"p": str(second)}).fetchall()
    )


# ---------------------------------------------------------------------------- PDE


def test_pde_adjustments_and_deletions_name_the_event_they_replace(warehouse, tmp_path):
    _, counts = load(warehouse, "pde", [DATA / "pde" / "pde.csv"], None, tmp_path)
    assert (counts.rows_accepted, counts.rows_quarantined) == (5, 1)
    got = claims(
        warehouse,
        "claim_status",
        "original_claim_id",
        "pharmacy_id",
        "prescriber_id",
        "rx_reference",
        "fill_number",
        "drug_name",
    )
    assert got["P100"][:2] == ("paid", None)
    assert got["P101"][:2] == ("adjusted", "P100")
    assert got["P201"][:2] == ("reversed", "P200")
    assert got["P300"][2:6] == ("9876543210", None, "RX9003", 1)
    assert got["P100"][6] == "SERTRALINE HCL ZOLOFT"
    assert quarantined(warehouse)[6][0] == "bad_claim_status"  # ADJSTMT_DLTN_CD X is not a PDE code


# ---------------------------------------------------------------------------- mapping


def test_mapping_renames_recodes_and_parses_dates(warehouse, tmp_path):
    mapping = DATA / "mapping" / "mapping.toml"
    _, counts = load(warehouse, f"mapping:{mapping}", [DATA / "mapping" / "claims.csv"], None, tmp_path)
    got = claims(warehouse, "patient_id", "fill_date", "end_date", "drug_name", "pharmacy_id", "claim_status")
    assert got["c1"] == ("m1", date(2022, 2, 1), date(2022, 2, 28), "Zoloft 50 mg", "PH-1", "paid")
    assert got["c3"][5] == "reversed"
    reasons = {row: code for row, (code, _, _) in quarantined(warehouse).items()}
    assert reasons == {4: "end_before_fill", 5: "bad_fill_date"}
    assert (counts.rows_accepted, counts.rows_quarantined) == (3, 2)


def test_a_mapping_names_a_code_column_and_the_name_beside_it(warehouse, tmp_path):
    """[drug] column (NDC) with name_column: the code maps when the crosswalk knows it (Zoloft 50 mg,
    00049490030, in the shipped crosswalk); a pharmacy's own item number in the NDC column maps nothing, and
    the name beside it maps the claim."""
    from transforms import normalise

    source = write_csv(
        tmp_path / "extract.csv",
        "RX,MEMBER,FILLED,DAYS,ITEM,DESCRIPTION",
        "r1,m1,2025-01-02,30,00049490030,ZOLOFT 50MG TAB",
        "r2,m1,2025-01-03,30,55555000001,TRAMADOL HCL 50MG TAB",
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[columns]\nclaim_id = "RX"\npatient_id = "MEMBER"\nfill_date = "FILLED"\ndays_supply = "DAYS"\n'
        '[drug]\ncolumn = "ITEM"\ncode_type = "ndc"\nname_column = "DESCRIPTION"\n'
    )
    load(warehouse, f"mapping:{mapping}", [source], None, tmp_path)
    assert claims(warehouse, "ndc", "drug_name") == {
        "r1": ("00049490030", "ZOLOFT 50MG TAB"),
        "r2": ("55555000001", "TRAMADOL HCL 50MG TAB"),
    }
    normalise.map_ingredients(
        warehouse, load_rules(), warehouse.execute("select any_value(run_id) from claims").fetchall()[0][0]
    )
    assert sorted(
        warehouse.execute("select claim_id, ingredient, mapped_by from fill_ingredients").fetchall()
    ) == [
        ("r1", "sertraline", "ndc"),
        ("r2", "tramadol", "name"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[columns]\npatient_id = "MEMBER"\nfill_date = "DISPENSED"\n', "days_supply or an end_date"),
        ('[colums]\nx = "y"\n', r"unknown section \[colums\]"),
        ('[columns]\npatient = "MEMBER"\n', "patient is not a canonical field"),
        (
            '[columns]\npatient_id = "M"\nfill_date = "D"\nend_date = "S"\n[drug]\ncolumn = "P"\ncode_type = "gtin"\n',
            "code_type 'gtin'",
        ),
        (
            '[columns]\npatient_id = "M"\nfill_date = "D"\nend_date = "S"\n[drug]\ncolumn = "P"\nname_column = "N"\n',
            "name_column",
        ),
    ],
)
def test_bad_mappings_are_one_sentence_errors(tmp_path, text, message):
    mapping = tmp_path / "m.toml"
    mapping.write_text(text)
    with pytest.raises(SerosurvError, match=message):
        adapt(f"mapping:{mapping}", [DATA / "mapping" / "claims.csv"], None, tmp_path / "out")


def test_mapped_column_missing_from_the_file_names_file_and_column(tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[columns]\npatient_id = "MEMBER_NO"\nfill_date = "DISPENSED"\nend_date = "STOP"\n'
        'drug_name = "PRODUCT"\n[source]\ndelimiter = ";"\n'
    )
    with pytest.raises(SerosurvError, match=r"claims.csv: column 'MEMBER_NO' \(mapped to patient_id"):
        adapt(f"mapping:{mapping}", [DATA / "mapping" / "claims.csv"], None, tmp_path / "out")


# ---------------------------------------------------------------------------- errors and pass-through


def test_unknown_format_lists_the_supported_ones(tmp_path):
    with pytest.raises(
        SerosurvError, match="Unknown input format 'sas'; supported: canonical, omop, scdm, pde"
    ):
        adapt("sas", [DATA / "pde" / "pde.csv"], None, tmp_path)
    assert "mimic-iv" in FORMATS


def test_missing_source_column_names_file_and_column(tmp_path):
    bad = tmp_path / "prescriptions.csv"
    bad.write_text("subject_id,drug\n1,Sertraline\n")
    with pytest.raises(
        SerosurvError, match=r"prescriptions.csv: required column 'starttime' of the MIMIC-IV"
    ):
        adapt("mimic-iv", [bad], None, tmp_path / "out")


def test_canonical_patients_file_passes_through(tmp_path):
    people = tmp_path / "patients.csv"
    people.write_text("patient_id,birth_year\n1,1970\n")
    adapted = adapt("omop", [DATA / "omop"], people, tmp_path / "out")
    assert adapted.patients is None  # api.run then uses the given file as it is


def test_cli_run_reports_a_missing_adapter_column_with_exit_2(prefect_harness, tmp_path, capsys):
    from serosurv.cli import main

    bad = tmp_path / "pde.csv"
    bad.write_text("BENE_ID,SRVC_DT\nB1,20210101\n")
    assert (
        main(
            [
                "run",
                "--claims",
                str(bad),
                "--format",
                "pde",
                "--out",
                str(tmp_path),
                "--warehouse",
                str(tmp_path / "serosurv.duckdb"),
            ]
        )
        == 2
    )
    assert "required column 'PROD_SRVC_ID'" in capsys.readouterr().err
