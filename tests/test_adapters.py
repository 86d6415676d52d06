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

from serosurv.core.config import SourceConfig
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import load_rules
from tests.conftest import write_csv
from transforms import ingest, validate
from transforms.adapters import FORMATS, adapt

DATA = Path(__file__).parent / "data" / "adapters"
AS_OF = date(2200, 1, 1)


UNKNOWN_IDS = SourceConfig().unknown_ids  # the default [source] unknown_ids, as a night passes them


def load(con, fmt, claims, patients=None, tmp_path=None, earliest="1950-01-01"):
    adapted = adapt(fmt, claims, patients, tmp_path / "adapted", UNKNOWN_IDS)
    read = ingest.stage_claims(con, adapted.claims, tmp_path / "staged", adapted=True)
    counts = validate.check_claims(con, "r1", AS_OF, earliest, UNKNOWN_IDS)
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
    # Missing stop time: an ongoing order (no end; counted to the night); missing prescriber: unknown;
    # ndc "0": none.
    assert got["30000003"][1:3] == (date(2180, 5, 4), None)
    ongoing = warehouse.execute("SELECT claim_id FROM claims WHERE ongoing ORDER BY 1").fetchall()
    assert ongoing == [("30000003",)]
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
    # 371-day supply from 2020-03-01 ending 2021-03-07 = start + days_supply, the first day without drug
    # (Synthea's ETL): the last covered day is 2021-03-06 (THEMIS). The night counts the rows corrected:
    # this one and row 5 (9 days from 1990-05-01 ending 05-10), which is quarantined for its drug.
    assert got["3"][2:4] == (None, date(2021, 3, 6))
    assert adapted.counts == {"omop_end_dates_corrected": 2}
    assert got["3"][7] is None  # provider_id 0 = unknown
    assert got["4"][1:4] == (date(2019, 6, 1), 30, None)  # no end date: the days supply is used
    assert quarantined(warehouse)[5][:2] == (
        "missing_drug",
        "drug_concept_id 999999 is not in the concept table and drug_source_value 'unknown' is no NDC",
    )


def test_omop_one_time_administration_is_one_day_and_an_order_without_end_is_ongoing(warehouse, tmp_path):
    folder = tmp_path / "omop"
    folder.mkdir()
    (folder / "concept.csv").write_text((DATA / "omop" / "concept.csv").read_text())
    header = (DATA / "omop" / "drug_exposure.csv").read_text().splitlines()[0]
    rows_ = [
        # an inpatient administration with no end date and no days supply: the day it was given
        "7,1,40231926,2020-03-01,,,,,38000180,,,1,,,,,10,100,,,,,",
        # a prescription written with neither: still running when extracted, an ongoing order (counted to
        # the night, capped by [episodes] ongoing_max_days), not a quarantined row
        "8,1,40231926,2020-03-02,,,,,38000177,,,,,,,,10,100,,,,,",
    ]
    (folder / "drug_exposure.csv").write_text("\n".join([header, *rows_]) + "\n")
    _, counts = load(warehouse, "omop", [folder], None, tmp_path)
    assert claims(warehouse, "fill_date", "end_date", "days_supply", "ongoing") == {
        "7": (date(2020, 3, 1), date(2020, 3, 1), None, False),
        "8": (date(2020, 3, 2), None, None, True),
    }
    assert quarantined(warehouse) == {}


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


def test_a_mapping_says_an_empty_stop_date_is_an_ongoing_order(warehouse, tmp_path):
    """`[constants] ongoing = "true"`: an order without STOP runs until stopped (c5's date is still bad)."""
    source = (
        (DATA / "mapping" / "claims.csv")
        .read_text()
        .replace("c2;m1;10.02.2022;14.02.2022", "c2;m1;10.02.2022;")
    )
    (tmp_path / "claims.csv").write_text(source)
    mapping = tmp_path / "m.toml"
    text = (DATA / "mapping" / "mapping.toml").read_text()
    mapping.write_text(text.replace("[constants]\n", '[constants]\nongoing = "true"\n'))
    _, counts = load(warehouse, f"mapping:{mapping}", [tmp_path / "claims.csv"], None, tmp_path)
    got = claims(warehouse, "fill_date", "end_date", "ongoing")
    assert got["c1"] == (date(2022, 2, 1), date(2022, 2, 28), False)  # a stop date: not open-ended
    assert got["c2"] == (date(2022, 2, 10), None, True)
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


# ---------------------------------------------------------------------------- identifiers (issue 17)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12345", "12345"),
        (" 12345 ", "12345"),
        ("12345.0", "12345"),  # pandas, R
        ("1.0", "1"),
        ("-1.0", "-1"),
        ("0.0", "0"),
        ("1.0E5", "100000"),  # Java / Spark above 10^7
        ("4.0231926E7", "40231926"),
        ("1.2345E+4", "12345"),
        ("1.23456E4", "1.23456E4"),  # not a whole number: kept as written
        ("12.50", "12.50"),
        ("00013D2EFD8E45D1", "00013D2EFD8E45D1"),  # a hex id is never read as a number
        ("1234E5", "1234E5"),  # no decimal point: text
        ("P11AAA", "P11AAA"),
        ("", None),
        (None, None),
    ],
)
def test_source_id_reads_float_written_integers_as_integers(text, expected):
    from transforms.sql import create_macros

    con = duckdb.connect()
    create_macros(con, "source_id")
    assert con.execute("SELECT source_id($t)", {"t": text}).fetchone()[0] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234567890", "1234567890"),
        (" P7 ", "P7"),
        ("1.0", "1.0"),  # known: returned as written (adapters read it through source_id first)
        ("0", None),
        ("0.0", None),
        ("0000000000", None),
        ("0.0E0", None),
        ("", None),
        ("  ", None),
        (None, None),
        ("-1", None),  # configured
        ("-1.0", None),  # configured, float-written
        ("unknown", None),  # configured, any case
        ("NONE", "NONE"),  # not configured here
    ],
)
def test_known_id_is_null_for_empty_zero_and_configured_sentinels(text, expected):
    from transforms.sql import create_macros

    con = duckdb.connect()
    create_macros(con, "source_id", "known_id")
    got = con.execute("SELECT known_id($t, $ids)", {"t": text, "ids": ["-1", "UNKNOWN"]}).fetchone()[0]
    assert got == expected


def test_canonical_prescriber_and_pharmacy_sentinels_are_unknown(warehouse, tmp_path):
    """The canonical format follows the same rule: empty, zero however written and [source] unknown_ids are
    an unknown prescriber or pharmacy; other ids are kept as written (canonical ids are not reformatted)."""
    from tests.conftest import write_csv

    path = write_csv(
        tmp_path / "claims.csv",
        "claim_id,patient_id,fill_date,days_supply,drug_name,prescriber_id,pharmacy_id",
        "c1,p1,2021-01-01,30,sertraline,0.0,-1",
        "c2,p1,2021-01-01,30,sertraline,UNKNOWN,0000000",
        "c3,p1,2021-01-01,30,sertraline,1.0,n/a",
        "c4,p1,2021-01-01,30,sertraline,P7,PH1",
    )
    ingest.stage_claims(warehouse, [path], tmp_path / "staged")
    counts = validate.check_claims(warehouse, "r1", AS_OF, "2000-01-01", UNKNOWN_IDS)
    assert counts.rows_accepted == 4
    assert claims(warehouse, "prescriber_id", "pharmacy_id") == {
        "c1": (None, None),
        "c2": (None, None),
        "c3": ("1.0", None),
        "c4": ("P7", "PH1"),
    }


def test_float_written_omop_ids_join_concepts_persons_and_provider_zero_is_unknown(warehouse, tmp_path):
    """An OMOP export that wrote every id as a float (pandas '1.0', Spark '4.0231926E7'): concepts and
    persons join, provider 0.0 and -1.0 are unknown, drug_concept_id 0 names no drug (its NDC does)."""
    src = DATA / "omop-float"
    adapted, counts = load(warehouse, "omop", [src], None, tmp_path)
    assert (counts.rows_accepted, counts.rows_quarantined) == (6, 0)
    got = claims(
        warehouse, "patient_id", "drug_name", "rxcui", "ndc", "prescriber_id", "rx_reference", "end_date"
    )
    assert got["1"] == ("1", "sertraline 50 MG Oral Tablet", "312941", None, "10", "100", date(2021, 1, 30))
    assert got["2"][:5] == ("1", "tramadol hydrochloride 50 MG Oral Tablet", "835603", None, "20")
    assert got["3"][4] is None and got["4"][4] is None  # provider_id 0.0: unknown, not a prescriber "0.0"
    # Spark's scientific notation: concept 4.0231926E7 is sertraline, visit 1.04E2 is 104; provider -1.0
    # is a [source] unknown_ids value.
    assert got["5"] == ("3", "sertraline 50 MG Oral Tablet", "312941", None, None, "104", date(2021, 3, 30))
    # drug_concept_id 0 is "No matching concept" in concept.csv: not a drug name; the NDC is the drug.
    assert got["6"][1:4] == (None, None, "00093715001")
    # end dates of start + days_supply (rows 3 and 5) are the day after the supply: moved back a day.
    assert got["3"][6] == date(2021, 3, 2)
    assert adapted.counts == {"omop_end_dates_corrected": 2}
    people = duckdb.execute(
        "SELECT * FROM read_parquet($p) ORDER BY 1", {"p": str(adapted.patients)}
    ).fetchall()
    assert people == [
        ("1", 1970, "F", date(2015, 1, 1), date(2021, 12, 31)),
        ("2", 1955, "M", date(2016, 1, 1), date(2021, 12, 31)),
        ("3", 1980, None, date(2020, 1, 1), date(2021, 12, 31)),
    ]


def test_omop_concept_table_in_a_vocabulary_folder_is_chosen_and_named(tmp_path):
    """A CDM folder with its own partial concept.csv and an Athena vocabulary folder (tab-delimited
    CONCEPT.csv naming every concept): the table naming the most concepts wins, and the log says which."""
    import logging

    folder = tmp_path / "cdm"
    (folder / "vocabulary").mkdir(parents=True)
    (folder / "drug_exposure.csv").write_text((DATA / "omop-float" / "drug_exposure.csv").read_text())
    concept = (DATA / "omop-float" / "concept.csv").read_text().splitlines()
    (folder / "concept.csv").write_text("\n".join(concept[:3]) + "\n")  # no tramadol
    athena = [line.replace(",", "\t") for line in concept]
    (folder / "vocabulary" / "CONCEPT.csv").write_text("\n".join(athena) + "\n")
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())  # the CLI's logger does not propagate
    logger = logging.getLogger("serosurv")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        adapted = adapt("omop", [folder], None, tmp_path / "out")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    names = duckdb.execute(
        "SELECT claim_id, drug_name FROM read_parquet($p) WHERE claim_id IN ('2', '4') ORDER BY 1",
        {"p": str(adapted.claims[0])},
    ).fetchall()
    assert names == [
        ("2", "tramadol hydrochloride 50 MG Oral Tablet"),
        ("4", "tramadol hydrochloride 50 MG Oral Tablet"),
    ]
    (line,) = [line for line in lines if "OMOP concept table" in line]
    assert line == (
        "OMOP concept table: vocabulary/CONCEPT.csv, which names 2 of the 2 drug and source concepts "
        "drug_exposure uses (not concept.csv, which names 1)"
    )


# ---------------------------------------------------------------------------- CMS RIF (issue 17)


def test_pde_rif_file_pipe_delimited_with_cms_dates_qualifiers_and_dml(warehouse, tmp_path):
    """CMS's own RIF layout: pipe-delimited (whatever the extension), dates 01-Mar-2015 / YYYYMMDD / ISO,
    prescriber and pharmacy ids with their qualifiers, an adjustment, a RIF UPDATE."""
    adapted, counts = load(warehouse, "pde", [DATA / "pde-rif" / "pde.txt"], None, tmp_path)
    assert (counts.rows_accepted, counts.rows_quarantined) == (5, 1)
    got = claims(
        warehouse,
        "patient_id",
        "fill_date",
        "prescriber_id",
        "pharmacy_id",
        "claim_status",
        "original_claim_id",
    )
    assert got["1001"] == ("5001", date(2015, 3, 1), "1111111112", "1234567893", "paid", None)
    # DEA-qualified prescriber (12), NCPDP-qualified pharmacy (07): the kind is kept with the id.
    assert got["1002"] == ("5001", date(2015, 3, 10), "DEA:AB1234563", "NCPDP:0512345", "paid", None)
    # 0000000000 (NPI) and 0 (DEA) mean no prescriber; ISO and YYYYMMDD dates are read too.
    assert got["1003"][1:3] == (date(2015, 3, 15), None)
    assert got["1004"][1:3] == (date(2015, 3, 20), None)
    assert got["1005"][4:] == ("adjusted", "1001")
    rows = quarantined(warehouse)
    assert rows[6][:2] == (
        "unsupported_dml",
        "DML_IND UPDATE is an instruction to change a PDE loaded earlier, which serosurv does not apply; "
        "only INSERT rows are read",
    )
    assert json.loads(rows[6][2])["PDE_ID"] == "1002"
    assert adapted.absent == ()  # PDEs carry prescriber and pharmacy


def test_pde_beneficiary_files_give_birth_year_sex_and_part_d_coverage(tmp_path):
    adapted = adapt(
        "pde", [DATA / "pde-rif" / "pde.txt"], DATA / "pde-rif" / "beneficiary.csv", tmp_path / "rif"
    )
    people = duckdb.execute("SELECT * FROM read_parquet($p)", {"p": str(adapted.patients)}).fetchall()
    assert people == [
        # March-October 2015 (contract ids), then all of 2016: the first start to the last end
        ("5001", 1942, "F", date(2015, 3, 1), date(2016, 12, 31)),
        # 12 months of plan coverage in 2015, no monthly ids
        ("5002", 1945, "M", date(2015, 1, 1), date(2015, 12, 31)),
        # sex code 0 is unknown; no coverage facts; 5003's DELETE row is left out
        ("5004", 1938, None, None, None),
    ]
    # A DE-SynPUF Beneficiary Summary (comma-delimited, YYYYMMDD, DESYNPUF_ID; no year column: coverage
    # unknown).
    synpuf = tmp_path / "DE1_0_2008_Beneficiary_Summary_File_Sample_1.csv"
    synpuf.write_text(
        "DESYNPUF_ID,BENE_BIRTH_DT,BENE_DEATH_DT,BENE_SEX_IDENT_CD,BENE_RACE_CD,PLAN_CVRG_MOS_NUM\n"
        "00013D2EFD8E45D1,19230501,,1,1,12\n00016F745862898F,19430101,,2,1,0\n"
    )
    adapted = adapt("pde", [DATA / "pde" / "pde.csv"], synpuf, tmp_path / "synpuf")
    people = duckdb.execute("SELECT * FROM read_parquet($p)", {"p": str(adapted.patients)}).fetchall()
    assert people == [
        ("00013D2EFD8E45D1", 1923, "M", None, None),
        ("00016F745862898F", 1943, "F", None, None),
    ]


def test_a_file_that_is_not_a_beneficiary_summary_is_refused(tmp_path):
    with pytest.raises(
        SerosurvError, match=r"required column 'BENE_BIRTH_DT' of the CMS beneficiary summary"
    ):
        adapt("pde", [DATA / "pde" / "pde.csv"], DATA / "pde" / "pde.csv", tmp_path / "out")


# ---------------------------------------------------------------------------- every adapter (issue 17)

# Three rows per format, written as a pandas or R export writes them: float ids ("10000001.0"), and the
# prescriber (or pharmacy) as a real id, as "0.0" and as a configured sentinel ("-1" / "NULL").
EVERY_ADAPTER = {
    "mimic-iv": (
        "prescriptions.csv",
        "subject_id,pharmacy_id,order_provider_id,starttime,stoptime,drug_type,drug,route\n"
        "10000001.0,30000001.0,P11AAA,2180-05-01 08:00:00,2180-05-10 14:00:00,MAIN,Sertraline,PO\n"
        "10000001.0,30000002.0,0.0,2180-05-02 08:00:00,2180-05-03 14:00:00,MAIN,Tramadol,PO\n"
        "10000002.0,30000003.0,-1,2180-05-02 08:00:00,2180-05-03 14:00:00,MAIN,Tramadol,PO\n",
        None,
    ),
    "scdm": (
        "dispensing.csv",
        "PatID,ProviderID,RxDate,Rx,Rx_CodeType,RxSup,RxAmt\n"
        "1001.0,5001.0,01/15/2021,00093715001,ND,30,30\n"
        "1001.0,0.0,01/20/2021,835603,RN,10,40\n"
        "1002.0,NULL,01/20/2021,835603,RN,10,40\n",
        None,
    ),
    "pde": (
        "pde.csv",
        "BENE_ID,PDE_ID,SRVC_DT,PROD_SRVC_ID,DAYS_SUPLY_NUM,PRSCRBR_ID,SRVC_PRVDR_ID\n"
        "5001.0,1.0,20150301,00093715001,30,1111111112.0,1234567893.0\n"
        "5001.0,2.0,20150302,00093715001,30,0.0,0\n"
        "5002.0,3.0,20150302,00093715001,30,-1.0,null\n",
        None,
    ),
    "mapping": (
        "claims.csv",
        "RX,MEMBER,DISPENSED,DAYS,PRODUCT,PRESCRIBER,PHARMACY\n"
        "1.0,1001.0,2022-02-01,30,sertraline,NPI1,PH1\n"
        "2.0,1001.0,2022-02-02,30,tramadol,0.0,0000000\n"
        "3.0,1002.0,2022-02-02,30,tramadol,-1,N/A\n",
        '[columns]\nclaim_id = "RX"\npatient_id = "MEMBER"\nfill_date = "DISPENSED"\ndays_supply = "DAYS"\n'
        'prescriber_id = "PRESCRIBER"\npharmacy_id = "PHARMACY"\n[drug]\ncolumn = "PRODUCT"\ncode_type = "drug_name"\n',
    ),
}


@pytest.mark.parametrize("fmt", sorted(EVERY_ADAPTER))
def test_every_adapter_reads_float_ids_and_unknown_prescribers_and_pharmacies(fmt, warehouse, tmp_path):
    name, text, mapping = EVERY_ADAPTER[fmt]
    source = tmp_path / name
    source.write_text(text)
    if mapping is not None:
        (tmp_path / "mapping.toml").write_text(mapping)
        fmt = f"mapping:{tmp_path / 'mapping.toml'}"
    _, counts = load(warehouse, fmt, [source], None, tmp_path)
    assert (counts.rows_accepted, counts.rows_quarantined) == (3, 0)
    got = sorted(
        warehouse.execute("SELECT source_row, patient_id, prescriber_id, pharmacy_id FROM claims").fetchall()
    )
    first = {
        "mimic-iv": ("10000001", "P11AAA", None),  # MIMIC has no dispensing pharmacy
        "scdm": ("1001", "5001", None),  # nor SCDM
        "pde": ("5001", "1111111112", "1234567893"),
        "mapping": ("1001", "NPI1", "PH1"),
    }[fmt.split(":")[0]]
    second_patient = first[0][:-1] + "2"
    assert got == [
        (1, *first),
        (2, first[0], None, None),  # "0.0" (and "0", "0000000"): unknown
        (3, second_patient, None, None),  # -1, -1.0, NULL, N/A: [source] unknown_ids
    ]


def test_a_night_reports_the_omop_end_dates_it_corrected(prefect_harness, tmp_path):
    """The float-written OMOP folder: exposures 3 (2021-02-01 + 30 days, end 03-03) and 5 (2021-03-01 + 30,
    end 03-31) end on start + days_supply; the night records 2 corrections and the report says so."""
    from serosurv import api

    result = api.run(
        [DATA / "omop-float"],
        fmt="omop",
        as_of=date(2021, 3, 31),
        out_dir=tmp_path / "out",
        warehouse=tmp_path / "w.duckdb",
    )
    assert result.counts["omop_end_dates_corrected"] == 2
    report = result.reports["report"].read_text()
    assert "2 OMOP drug exposure(s) ended on their start date plus" in report
    assert "start + days\nsupply − 1, the OHDSI THEMIS convention" in report
