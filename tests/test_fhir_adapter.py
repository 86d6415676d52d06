"""`--format fhir`: FHIR R4 Bulk NDJSON and STU3 Bundles written by hand from the specification
(tests/data/adapters/fhir/), adapted, staged and validated with the real transforms, then a whole night.

The R4 $export folder (r4-export/): patient p1 fills sertraline at pharmacy A (prescribed by dr-psych;
4 weeks' supply on the refill) and tramadol at pharmacy B (a Medication with an NDC, prescribed through a
PractitionerRole of dr-ed); a cancelled linezolid dispense, an entered-in-error ondansetron and a sertraline
refill still in progress. Patient p2 has no dispenses: its MedicationRequests are the orders (fluoxetine by
dr-gp, phenelzine by dr-other with a supply from quantity / daily dose, a tramadol proposal). Patient p3
has a dispensed lisinopril and an undispensed trazodone request. Expected outcomes were worked out by hand
from the resources.
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from serosurv.core.errors import SerosurvError
from tests.conftest import query
from transforms import ingest, validate
from transforms.adapters import FORMATS, adapt

DATA = Path(__file__).parent / "data" / "adapters" / "fhir"
EXPORT = DATA / "r4-export"
AS_OF = date(2025, 3, 21)


def load(con, claims, tmp_path, patients=None):
    adapted = adapt("fhir", claims, patients, tmp_path / "adapted")
    read = ingest.stage_claims(con, adapted.claims, tmp_path / "staged", adapted=True)
    counts = validate.check_claims(con, "r1", AS_OF, "1950-01-01")
    assert read == counts.rows_accepted + counts.rows_quarantined  # every row reconciles
    return adapted, read, counts


def claims(con):
    columns = (
        "patient_id, fill_date, days_supply, end_date, ndc, rxcui, drug_name, quantity, prescriber_id, "
        "pharmacy_id, claim_status, rx_reference, original_claim_id"
    )
    return {r[0]: r[1:] for r in con.execute(f"SELECT claim_id, {columns} FROM claims").fetchall()}


def quarantined(con):
    rows = con.execute("SELECT source_file, source_row, reason_code, reason, raw FROM quarantine").fetchall()
    return {(Path(f).name, row): (code, reason, raw) for f, row, code, reason, raw in rows}


def test_fhir_is_a_format():
    assert "fhir" in FORMATS


def test_r4_export_dispenses_become_fills_with_codes_prescribers_and_pharmacies(warehouse, tmp_path):
    adapted, read, counts = load(warehouse, [EXPORT], tmp_path)
    # 7 dispenses (a blank line is not a row) + 9 requests; Observation and Organization files are skipped.
    assert (read, counts.rows_accepted, counts.rows_quarantined) == (16, 7, 9)
    assert adapted.absent == ()  # this source names prescribers and pharmacies
    got = claims(warehouse)
    assert got["MedicationDispense/d1"] == (
        "p1", date(2025, 1, 6), 30, None, None, "312940", "Sertraline 50 MG Oral Tablet", 30.0,
        "Practitioner/dr-psych", "Organization/pharm-a", "paid", "MedicationRequest/rx-s1", None,
    )  # fmt: skip
    # 4 weeks of supply; no text: the RxNorm display names the drug.
    assert got["MedicationDispense/d2"][1:7] == (
        date(2025, 2, 5),
        28,
        None,
        None,
        "312940",
        "Sertraline 50 MG Oral Tablet",
    )
    # medicationReference -> Medication with an NDC coding (its display the name); the prescriber is the
    # practitioner of the PractitionerRole; the pharmacist performer is skipped for the Organization.
    assert got["MedicationDispense/d3"] == (
        "p1", date(2025, 2, 10), 10, None, "57664037788", None, "Tramadol Hydrochloride 50 MG Oral Tablet", 20.0,
        "Practitioner/dr-ed", "Organization/pharm-b", "paid", "MedicationRequest/rx-t1", None,
    )  # fmt: skip
    # entered-in-error: a reversal of the record (cancels the fill if an earlier night loaded it).
    assert got["MedicationDispense/d5#entered-in-error"][10:] == (
        "reversed",
        "MedicationRequest/rx-o1",
        "MedicationDispense/d5",
    )
    assert got["MedicationDispense/d7"][:3] == ("p3", date(2025, 3, 1), 90)


def test_r4_requests_are_orders_only_for_patients_without_dispenses(warehouse, tmp_path):
    load(warehouse, [EXPORT], tmp_path)
    got = claims(warehouse)
    # p2 has no dispense: its requests are the orders, from authoredOn (the date as written).
    assert got["MedicationRequest/rx-f1"] == (
        "p2", date(2025, 3, 1), 30, None, None, "310385", "fluoxetine 20 mg capsule", 30.0,
        "Practitioner/dr-gp", None, "paid", "MedicationRequest/rx-f1", None,
    )  # fmt: skip
    # No expected supply duration: 90 tablets at 1 tablet 3 times a day is 30 days ('{tablets}' = '{tablet}').
    assert got["MedicationRequest/rx-p1"][:3] == ("p2", date(2025, 3, 10), 30)
    assert got["MedicationRequest/rx-p1"][8] == "Practitioner/dr-other"
    assert {k for k in got if k.startswith("MedicationRequest/")} == {
        "MedicationRequest/rx-f1",
        "MedicationRequest/rx-p1",
    }


def test_r4_quarantine_names_file_line_and_field(warehouse, tmp_path):
    load(warehouse, [EXPORT], tmp_path)
    rows = quarantined(warehouse)
    assert {key: code for key, (code, _, _) in rows.items()} == {
        ("MedicationDispense.ndjson", 5): "not_dispensed",  # cancelled (line 4 is blank)
        ("MedicationDispense.ndjson", 7): "not_dispensed",  # in-progress
        ("MedicationRequest.ndjson", 1): "request_dispensed",
        ("MedicationRequest.ndjson", 2): "request_dispensed",
        ("MedicationRequest.ndjson", 3): "request_dispensed",  # authorises the cancelled dispense
        ("MedicationRequest.ndjson", 4): "request_dispensed",
        ("MedicationRequest.ndjson", 7): "not_an_order",  # intent proposal
        ("MedicationRequest.ndjson", 8): "request_dispensed",
        ("MedicationRequest.ndjson", 9): "request_not_dispensed",  # p3 has dispenses, none for trazodone
    }
    assert rows[("MedicationDispense.ndjson", 5)][1] == (
        "MedicationDispense.status 'cancelled': the dispense did not take place"
    )
    assert rows[("MedicationDispense.ndjson", 7)][1] == (
        "MedicationDispense.status 'in-progress': not handed over to the patient (yet)"
    )
    assert rows[("MedicationRequest.ndjson", 7)][1] == (
        "MedicationRequest.intent 'proposal' is a suggestion, not an order or plan"
    )
    raw = json.loads(rows[("MedicationDispense.ndjson", 5)][2])
    assert raw["id"] == "d4" and raw["status"] == "cancelled"


def test_r4_patients_give_birth_year_and_sex(tmp_path):
    adapted = adapt("fhir", [EXPORT], None, tmp_path)
    rows = duckdb.execute(
        "SELECT * FROM read_parquet($p) ORDER BY 1", {"p": str(adapted.patients)}
    ).fetchall()
    assert rows == [
        ("p1", 1958, "F", None, None),
        ("p2", 1990, "M", None, None),
        ("p3", 1975, "O", None, None),
    ]


def test_ndjson_files_gzip_and_lines_that_are_not_json(warehouse, tmp_path):
    """Files given one by one (gzip too): every line is a row; a line that is not JSON is quarantined."""
    folder = tmp_path / "files"
    folder.mkdir()
    lines = (EXPORT / "MedicationDispense.ndjson").read_text().splitlines()
    with gzip.open(folder / "MedicationDispense.ndjson.gz", "wt") as handle:
        handle.write(
            "\n".join([*lines[:3], '{"resourceType": "MedicationDispense", "id": "broken"', *lines[3:]])
        )
    shutil.copy(EXPORT / "Medication.ndjson", folder)
    _, read, counts = load(warehouse, sorted(folder.iterdir()), tmp_path)
    assert (read, counts.rows_accepted, counts.rows_quarantined) == (8, 5, 3)
    rows = quarantined(warehouse)
    assert rows[("MedicationDispense.ndjson.gz", 4)][:2] == ("bad_json", "the line is not valid JSON")
    # Without the request files, dispenses have no prescriber; the NDC still comes from the Medication.
    got = claims(warehouse)
    assert got["MedicationDispense/d3"][4] == "57664037788" and got["MedicationDispense/d3"][8] is None


def test_stu3_bundle_contained_medication_urn_references_and_agent(warehouse, tmp_path):
    adapted, read, counts = load(warehouse, [DATA / "stu3-bundle.json"], tmp_path)
    assert (read, counts.rows_accepted, counts.rows_quarantined) == (6, 2, 4)
    patient = "7c1a2b6e-0001-4000-8000-000000000001"
    got = claims(warehouse)
    # whenPrepared without whenHandedOver; no daysSupply: 30 tablets at 1 a day; the contained Medication's
    # text names it; requester.agent (STU3) is the prescriber, performer.onBehalfOf the pharmacy.
    assert got["urn:uuid:7c1a2b6e-0003-4000-8000-000000000003"] == (
        patient, date(2024, 6, 1), 30, None, None, "200371", "Celexa 20 mg tablet", 30.0,
        "Practitioner/doc-9", "Organization/store-12", "paid", "urn:uuid:7c1a2b6e-0002-4000-8000-000000000002", None,
    )  # fmt: skip
    assert got["urn:uuid:7c1a2b6e-0007-4000-8000-000000000007"][2] == 2  # 36 hours: a partial day counts
    rows = quarantined(warehouse)
    assert {row: code for (_, row), (code, _, _) in rows.items()} == {
        2: "request_dispensed",
        4: "not_dispensed",
        6: "not_dispensed",
        8: "bad_days_supply",
    }
    assert (
        rows[("stu3-bundle.json", 4)][1]
        == "MedicationDispense.notDone is true: the dispense did not take place"
    )
    assert rows[("stu3-bundle.json", 8)][1] == (
        "MedicationDispense.daysSupply unit '{tablet}' is not a unit of time (d, wk, mo, a, h)"
    )
    people = duckdb.execute("SELECT * FROM read_parquet($p)", {"p": str(adapted.patients)}).fetchall()
    assert people == [(patient, 1970, "F", None, None)]


def test_source_without_prescribers_or_pharmacies_declares_them_absent(tmp_path):
    bundle = json.loads((DATA / "stu3-bundle.json").read_text())
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "MedicationRequest"]
    for entry in bundle["entry"]:
        entry["resource"].pop("performer", None)
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    assert adapt("fhir", [tmp_path / "b.json"], None, tmp_path / "out").absent == (
        "prescriber_id",
        "pharmacy_id",
    )


def test_raw_is_bounded(warehouse, tmp_path, monkeypatch):
    from transforms.adapters import fhir

    monkeypatch.setattr(fhir, "RAW_CHARS", 100)
    load(warehouse, [EXPORT], tmp_path)
    raw = json.loads(quarantined(warehouse)[("MedicationDispense.ndjson", 5)][2])
    assert raw["truncated_to"] == 100 and len(raw["resource"]) == 100 and raw["characters"] > 100


def test_patients_from_a_fhir_patients_file(tmp_path):
    adapted = adapt("fhir", [EXPORT / "MedicationDispense.ndjson"], EXPORT / "Patient.ndjson", tmp_path)
    rows = duckdb.execute("SELECT patient_id FROM read_parquet($p)", {"p": str(adapted.patients)}).fetchall()
    assert rows == [("p1",), ("p2",), ("p3",)]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: (d / "notes.txt").write_text("x"), "no FHIR files in the folder"),
        (
            lambda d: (d / "b.json").write_text('{"resourceType": "Bundle", "entry": [{"x": 1} {"y": 2}]}'),
            r"b.json: not a JSON document \(at byte \d+\); a FHIR JSON file holds one Bundle",
        ),
        (
            lambda d: (d / "Patient.ndjson").write_text('{"resourceType": "Patient", "id": "a"}\n'),
            r"no MedicationDispense or MedicationRequest resources in the FHIR input \(found: Patient 1\)",
        ),
    ],
)
def test_unreadable_inputs_are_one_sentence(tmp_path, setup, message):
    folder = tmp_path / "in"
    folder.mkdir()
    setup(folder)
    with pytest.raises(SerosurvError, match=message) as caught:
        adapt("fhir", [folder], None, tmp_path / "out")
    assert 'Bundle", "entry' not in str(caught.value)  # never the file's content


def test_other_files_are_refused(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("a\n1\n")
    with pytest.raises(SerosurvError, match="not a FHIR file; --claims with --format fhir takes NDJSON"):
        adapt("fhir", [path], None, tmp_path / "out")


# ---------------------------------------------------------------------------- the whole night


def test_r4_night_finds_the_cross_prescriber_interactions(prefect_harness, tmp_path):
    from serosurv import api

    result = api.run(
        [EXPORT], fmt="fhir", as_of=AS_OF, out_dir=tmp_path / "out", warehouse=tmp_path / "w.duckdb"
    )
    assert (result.counts["rows_read"], result.counts["rows_accepted"]) == (16, 7)
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        interactions = con.execute(
            "SELECT patient_id, ingredient_a, ingredient_b, severity, kind, first_overlap_date, overlap_days, "
            "prescriber_ids_a, prescriber_ids_b, cross_prescriber, cross_pharmacy FROM interactions ORDER BY ALL"
        ).fetchall()
        gate = dict(con.execute("SELECT check_name, status FROM dq_results").fetchall())
        profile = con.execute("SELECT absent_fields, quarantine_rate FROM night_profiles").fetchall()
    finally:
        con.close()
    assert interactions == [
        # sertraline 01-06 .. 03-04 (30 + 28 days) with tramadol 02-10 .. 02-19: two prescribers, two pharmacies.
        ("p1", "sertraline", "tramadol", "moderate", "overlap", date(2025, 2, 10), 10,
         ["Practitioner/dr-psych"], ["Practitioner/dr-ed"], True, True),
        # fluoxetine 03-01 .. 03-30 with phenelzine from 03-10 (orders: no pharmacy, so cross_pharmacy unknown).
        ("p2", "fluoxetine", "phenelzine", "contraindicated", "overlap", date(2025, 3, 10), 21,
         ["Practitioner/dr-gp"], ["Practitioner/dr-other"], True, None),
    ]  # fmt: skip
    # The cancelled linezolid and the voided ondansetron are not fills: no interaction with sertraline.
    # Requests with dispenses and records that did not happen are not a broken extract; prescribers and
    # pharmacies are carried (too few claims for the shares to be judged).
    assert profile == [("", 0.0)]
    assert gate["quarantine_rate"] == "passed" and "stopped" not in gate.values()
    # serosurv explain ties the quarantined resources to their patient (the subject's reference, not a
    # field of the resource named for a patient): p1's cancelled linezolid dispense, line 5.
    fates = api.explain_patient("p1", warehouse=tmp_path / "w.duckdb").claims
    quarantined = [
        (f.source_row, f.fate) for f in fates if not f.accepted and f.source_file.endswith("Dispense.ndjson")
    ]
    assert (5, "quarantined") in quarantined, quarantined


# ---------------------------------------------------------------------------- real data: SMART STU3 bundles

SMART = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "smart-fhir-stu3"
needs_smart = pytest.mark.skipif(
    not (SMART / "patient-731673.fhir-bundle.json").is_file(), reason=f"real datasets not found under {SMART}"
)


@pytest.fixture(scope="module")
def smart(prefect_harness, tmp_path_factory):
    """The whole night on the 48 SMART sample bundles, as of the newest order in them (2015-01-27: the
    medication-list patients' requests; the newest dispense is 2009-09-26), on default settings."""
    from serosurv import api

    out = tmp_path_factory.mktemp("smart")
    result = api.run(
        [SMART], fmt="fhir", as_of=date(2015, 1, 27), out_dir=out, warehouse=out / "serosurv.duckdb"
    )
    return result, out / "serosurv.duckdb"


@needs_smart
def test_smart_rows_reconcile_with_the_bundles(smart):
    result, warehouse = smart
    kinds = [
        entry["resource"]["resourceType"]
        for path in SMART.glob("*.json")
        for entry in json.loads(path.read_text())["entry"]
    ]
    assert (kinds.count("MedicationDispense"), kinds.count("MedicationRequest")) == (1_107, 363)
    runs = query(warehouse, "SELECT rows_read, rows_accepted, rows_quarantined, status FROM runs")
    assert runs == [(1_470, 1_168, 302, "success")]
    assert dict(query(warehouse, "SELECT reason_code, count(*) FROM quarantine GROUP BY ALL")) == {
        "request_dispensed": 234,  # every request a dispense authorises
        "request_not_dispensed": 22,  # requests of patients with dispenses that none authorises
        "missing_fill_date": 45,  # medication-list entries with no date at all
        # medication-list entries with a start and no supply or end are active orders, counted to the
        # night (7 ongoing); the eighth starts 2015-02-07, after the night
        "future_fill_date": 1,
    }
    assert query(warehouse, "SELECT count(*) FROM claims WHERE ongoing") == [(7,)]
    # 1,107 dispenses + 61 orders of the 11 patients without dispenses.
    assert query(
        warehouse, "SELECT split_part(claim_id, '/', 1), count(*) FROM claims GROUP BY ALL ORDER BY 1"
    ) == [
        ("MedicationDispense", 1_107),
        ("MedicationRequest", 61),
    ]
    assert query(warehouse, "SELECT count(*), count(birth_year), count(sex) FROM patients") == [(23, 23, 23)]


@needs_smart
def test_smart_duloxetine_and_trazodone_overlap_four_times(smart):
    """Checked by hand against the dispenses of patient-731673.fhir-bundle.json (docs/real-data.md)."""
    _, warehouse = smart
    rows = query(
        warehouse,
        "SELECT patient_id, ingredient_a, ingredient_b, severity, first_overlap_date, overlap_days, "
        "longest_overlap_days, cross_prescriber, cross_pharmacy FROM interactions ORDER BY first_overlap_date",
    )
    assert rows == [
        ("smart-731673", "duloxetine", "trazodone", "moderate", date(2005, 2, 17), 22, 17, None, None),
        ("smart-731673", "duloxetine", "trazodone", "moderate", date(2005, 4, 22), 32, 32, None, None),
        ("smart-731673", "duloxetine", "trazodone", "moderate", date(2005, 7, 17), 30, 30, None, None),
        ("smart-731673", "duloxetine", "trazodone", "moderate", date(2006, 2, 16), 30, 30, None, None),
    ]
    # Clinical-drug names map by name (the RxNorm codes are SCD/SBD codes).
    assert query(
        warehouse,
        "SELECT ingredient, count(DISTINCT claim_id) FROM fill_ingredients GROUP BY ALL ORDER BY 2 DESC, 1",
    ) == [
        ("trazodone", 24), ("zolpidem", 18), ("methylphenidate", 11), ("atomoxetine", 10), ("hydrocodone", 10),
        ("sertraline", 10), ("cyclobenzaprine", 8), ("escitalopram", 6), ("duloxetine", 5), ("bupropion", 3),
        ("sibutramine", 3), ("venlafaxine", 3),
    ]  # fmt: skip


@needs_smart
def test_smart_records_no_prescriber_or_pharmacy_and_the_report_says_so(smart):
    result, warehouse = smart
    assert query(warehouse, "SELECT absent_fields FROM night_profiles") == [("pharmacy_id,prescriber_id",)]
    outcome = dict(query(warehouse, "SELECT check_name, status FROM dq_results"))
    assert outcome["known_prescriber_share"] == outcome["known_pharmacy_share"] == "not_judged"
    # 53 undatable or unsupplied medication-list entries are 3.6% of the rows: a warning, not a stop.
    assert outcome["quarantine_rate"] == "warning" and "stopped" not in outcome.values()
    assert "Fragmentation cannot be measured for this source" in result.reports["report"].read_text()
