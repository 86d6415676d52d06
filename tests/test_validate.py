"""Ingest and row-level validation: every row is accepted or quarantined with a reason, and counts reconcile."""

from __future__ import annotations

import gzip
from datetime import date

import pytest

from serosurv.core.errors import SerosurvError
from serosurv.core.warehouse import rows
from tests.conftest import write_csv
from transforms import ingest, validate

HEADER = (
    "claim_id,patient_id,fill_date,days_supply,ndc,drug_name,quantity,prescriber_id,pharmacy_id,claim_status"
)
AS_OF = date(2025, 6, 30)
ROW_SLICES = validate.row_slices


def load(con, *paths, adapted=False):
    read = ingest.stage_claims(con, list(paths), paths[0].parent / "staged", adapted=adapted)
    counts = validate.check_claims(con, "r1", AS_OF, "2000-01-01")
    assert counts.rows_read == read
    return counts


def test_each_contract_violation_is_quarantined_with_its_reason(warehouse, tmp_path):
    path = write_csv(
        tmp_path / "claims.csv",
        HEADER,
        "C1,P1,2025-01-05,30,,sertraline 50 mg,30,D1,PH1,paid",
        ",P1,2025-01-05,30,,sertraline,30,D1,PH1,paid",
        "C3,,2025-01-05,30,,sertraline,30,D1,PH1,paid",
        "C4,P1,,30,,sertraline,30,D1,PH1,paid",
        "C5,P1,2025-02-30,30,,sertraline,30,D1,PH1,paid",
        "C6,P1,2025-08-01,30,,sertraline,30,D1,PH1,paid",
        "C7,P1,1999-12-31,30,,sertraline,30,D1,PH1,paid",
        "C8,P1,2025-01-05,thirty,,sertraline,30,D1,PH1,paid",
        "C9,P1,2025-01-05,0,,sertraline,30,D1,PH1,paid",
        "C10,P1,2025-01-05,366,,sertraline,30,D1,PH1,paid",
        "C11,P1,2025-01-05,,,sertraline,30,D1,PH1,paid",
        "C12,P1,2025-01-05,30,,,30,D1,PH1,paid",
        "C13,P1,2025-01-05,30,12345,sertraline,30,D1,PH1,paid",
        "C14,P1,2025-01-05,30,,sertraline,-2,D1,PH1,paid",
        "C15,P1,2025-01-05,30,,sertraline,30,D1,PH1,pending",
        "C1,P1,2025-01-06,30,,tramadol,30,D1,PH1,paid",
    )
    counts = load(warehouse, path)
    got = rows(warehouse, "SELECT source_row, reason_code FROM quarantine ORDER BY source_row")
    assert got == [
        (2, "missing_claim_id"),
        (3, "missing_patient_id"),
        (4, "missing_fill_date"),
        (5, "bad_fill_date"),
        (6, "future_fill_date"),
        (7, "implausible_fill_date"),
        (8, "bad_days_supply"),
        (9, "implausible_days_supply"),
        (10, "implausible_days_supply"),
        (11, "missing_supply"),
        (12, "missing_drug"),
        (13, "bad_ndc"),
        (14, "bad_quantity"),
        (15, "bad_claim_status"),
        (16, "duplicate_claim_id"),
    ]
    assert (counts.rows_read, counts.rows_accepted, counts.rows_quarantined) == (16, 1, 15)
    assert rows(warehouse, "SELECT claim_id, days_supply, quantity FROM claims") == [("C1", 30, 30.0)]


def test_quarantine_reason_names_the_field_and_value(warehouse, tmp_path):
    path = write_csv(tmp_path / "c.csv", HEADER, "C9,P1,2025-01-05,0,,sertraline,30,D1,PH1,paid")
    load(warehouse, path)
    ((reason, raw),) = rows(warehouse, "SELECT reason, raw FROM quarantine")
    assert reason == "days_supply 0 is outside 1-365"
    assert '"claim_id":"C9"' in raw


def test_ndc_layouts_are_normalised_to_11_digits(warehouse, tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        HEADER,
        "A,P1,2025-01-05,30,0378-1234-01,x,30,D1,PH1,paid",
        "B,P1,2025-01-05,30,12345-678-90,x,30,D1,PH1,paid",
        "C,P1,2025-01-05,30,12345-6789-1,x,30,D1,PH1,paid",
        "D,P1,2025-01-05,30,12345678901,x,30,D1,PH1,paid",
        "E,P1,2025-01-05,30,12345-6789-01,x,30,D1,PH1,paid",
    )
    load(warehouse, path)
    assert rows(warehouse, "SELECT claim_id, ndc FROM claims ORDER BY claim_id") == [
        ("A", "00378123401"),
        ("B", "12345067890"),
        ("C", "12345678901"),
        ("D", "12345678901"),
        ("E", "12345678901"),
    ]


def test_gzip_csv_and_parquet_inputs_are_read_with_row_numbers(warehouse, tmp_path):
    gz = tmp_path / "claims.csv.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write(
            HEADER + "\nG1,P1,2025-01-05,30,,sertraline,30,D1,PH1,paid\nG2,P1,2025-01-05,,,x,30,D1,PH1,paid\n"
        )
    parquet = tmp_path / "claims.parquet"
    warehouse.execute(
        "COPY (SELECT 'Q1' AS claim_id, 'P1' AS patient_id, DATE '2025-01-05' AS fill_date, 30 AS days_supply, "
        "'tramadol' AS drug_name) TO '" + str(parquet) + "'"
    )
    counts = load(warehouse, gz, parquet)
    assert (counts.rows_accepted, counts.rows_quarantined) == (2, 1)
    assert rows(warehouse, "SELECT source_row, reason_code FROM quarantine") == [(2, "missing_supply")]
    assert rows(warehouse, "SELECT claim_id, source_row FROM claims ORDER BY 1") == [("G1", 1), ("Q1", 1)]


def test_missing_required_column_is_a_one_sentence_error(warehouse, tmp_path):
    path = write_csv(tmp_path / "c.csv", "claim_id,patient_id,days_supply,drug_name", "C1,P1,30,x")
    with pytest.raises(SerosurvError, match=r"c\.csv: required column 'fill_date' is missing"):
        ingest.stage_claims(warehouse, [path], tmp_path / "staged")


def test_unknown_file_type_and_missing_file_are_errors(warehouse, tmp_path):
    (tmp_path / "claims.xlsx").write_text("x")
    with pytest.raises(SerosurvError, match="unknown file type"):
        ingest.stage_claims(warehouse, [tmp_path / "claims.xlsx"], tmp_path / "staged")
    with pytest.raises(SerosurvError, match="does not exist"):
        ingest.stage_claims(warehouse, [tmp_path / "nope.csv"], tmp_path / "staged")


def test_claims_loaded_by_an_earlier_night_are_not_loaded_twice(warehouse, tmp_path):
    path = write_csv(tmp_path / "c.csv", HEADER, "C1,P1,2025-01-05,30,,sertraline,30,D1,PH1,paid")
    load(warehouse, path)
    ingest.stage_claims(warehouse, [path], tmp_path / "staged")
    counts = validate.check_claims(warehouse, "r2", AS_OF, "2000-01-01")
    assert counts.reasons == {"already_loaded": 1}
    assert rows(warehouse, "SELECT count(*) FROM claims") == [(1,)]


def test_adapter_output_keeps_the_source_lineage_and_its_rejections(warehouse, tmp_path):
    path = write_csv(
        tmp_path / "adapted.csv",
        "claim_id,patient_id,fill_date,end_date,drug_name,source_file,source_row,raw,reject_code,reject_reason",
        'M1,P1,2025-01-05,2025-01-10,sertraline,prescriptions.csv.gz,17,"{""drug"":""sertraline""}",,',
        "M2,P1,2025-01-05,2025-01-10,NS,prescriptions.csv.gz,18,{},diluent_or_base,drug_type BASE is a diluent",
    )
    counts = load(warehouse, path, adapted=True)
    assert (counts.rows_accepted, counts.rows_quarantined) == (1, 1)
    assert rows(warehouse, "SELECT claim_id, source_file, source_row FROM claims") == [
        ("M1", "prescriptions.csv.gz", 17)
    ]
    assert rows(warehouse, "SELECT source_row, reason_code, reason, raw FROM quarantine") == [
        (18, "diluent_or_base", "drug_type BASE is a diluent", "{}")
    ]


def test_the_first_copy_of_a_repeated_claim_id_is_kept_by_row_number_not_text(warehouse, tmp_path):
    lines = [f"X{i},P1,2025-01-05,30,,sertraline,30,D1,PH1,paid" for i in range(1, 9)]
    path = write_csv(
        tmp_path / "c.csv",
        HEADER,
        *lines,
        "DUP,P1,2025-01-05,30,,sertraline,30,D1,PH1,paid",
        "DUP,P1,2025-01-06,30,,tramadol,30,D1,PH1,paid",
    )
    load(warehouse, path)
    assert rows(warehouse, "SELECT drug_name FROM claims WHERE claim_id = 'DUP'") == [("sertraline",)]
    assert rows(warehouse, "SELECT source_row, reason FROM quarantine") == [
        (10, f"claim_id repeats the claim of the same patient at {path} row 9")
    ]


def _slices_of(monkeypatch, rows_per_slice: int) -> list:
    """Validation made to check at most `rows_per_slice` rows at a time; the slices it cut, when it has."""
    cut: list = []

    def recorded(files, rows):
        cut.extend(ROW_SLICES(files, rows_per_slice))
        return cut

    monkeypatch.setattr(validate, "row_slices", recorded)
    return cut


def test_a_batch_too_large_for_memory_is_checked_in_slices_with_the_same_outcome(generated, monkeypatch):
    """Above half the memory limit the checks run on slices of rows that fit instead of one typed copy:
    the same rows are accepted and quarantined, with the same reasons, either way (generated data has
    every kind of malformed row, and repeated claim ids whose copies fall in other slices)."""
    import duckdb

    from serosurv.core.warehouse import ensure_schema

    total = duckdb.sql(f"SELECT count(*) FROM read_parquet('{generated['claims']}')").fetchall()[0][0]
    outcomes, slices = {}, {}
    for way, rows_per_slice in (("whole", total), ("slices", total // 7 + 1)):
        slices[way] = _slices_of(monkeypatch, rows_per_slice)
        con = duckdb.connect()
        ensure_schema(con)
        counts = load(con, generated["claims"])
        copied = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'stg_checked'"
        ).fetchall()
        outcomes[way] = (
            counts,
            con.execute("SELECT * EXCLUDE (run_id) FROM claims ORDER BY source_row").fetchall(),
            con.execute("SELECT * EXCLUDE (run_id) FROM quarantine ORDER BY source_row").fetchall(),
        )
        assert copied == [(0,)]  # dropped after the split either way
        con.close()
    assert len(slices["whole"]) == 1 and len(slices["slices"]) == 7
    assert outcomes["whole"] == outcomes["slices"]
    assert outcomes["whole"][0].rows_quarantined > 0 and len(outcomes["whole"][0].reasons) > 5
    assert outcomes["whole"][0].reasons["duplicate_claim_id"] > 0


def test_slices_cover_every_row_of_files_of_any_length_once(warehouse, tmp_path, monkeypatch):
    """Two files of 10 and 3 rows checked 4 rows at a time: each slice holds those rows of both files; a
    claim id repeated in another slice and another file is still the duplicate of its first copy."""
    first = write_csv(
        tmp_path / "a.csv",
        HEADER,
        *(f"A{i},P1,2025-01-05,30,,sertraline,30,D1,PH1,paid" for i in range(1, 11)),
    )
    second = write_csv(
        tmp_path / "b.csv",
        HEADER,
        "B1,P2,2025-01-05,30,,tramadol,30,D1,PH1,paid",
        "B2,P2,2025-01-05,30,,tramadol,30,D1,PH1,paid",
        "A9,P1,2025-01-06,30,,tramadol,30,D1,PH1,paid",
    )
    cut = _slices_of(monkeypatch, 4)
    counts = load(warehouse, first, second)
    assert cut == [(1, 2), (3, 5), (6, 9), (10, 10)]
    assert (counts.rows_read, counts.rows_accepted, counts.rows_quarantined) == (13, 12, 1)
    assert rows(warehouse, "SELECT source_row, reason FROM quarantine") == [
        (3, f"claim_id repeats the claim of the same patient at {first} row 9")
    ]
    assert rows(warehouse, "SELECT count(DISTINCT (source_file, source_row)) FROM claims") == [(12,)]


def test_row_slices_hold_at_most_the_rows_asked_and_cover_every_row():
    assert validate.row_slices([], 5) == []
    assert validate.row_slices([(1, 100)], 1000) == [(1, 100)]
    assert validate.row_slices([(1, 100)], 30) == [(1, 30), (31, 60), (61, 90), (91, 100)]
    assert validate.row_slices([(1, 100), (1, 10)], 30) == [(1, 20), (21, 50), (51, 80), (81, 100)]
    assert validate.row_slices([(1, 3), (1, 3), (1, 3)], 2) == [(1, 1), (2, 2), (3, 3)]  # never narrower


def test_a_claims_file_given_twice_is_refused(tmp_path):
    """Its rows would load twice under the same lineage: the night refuses it before reading."""
    path = tmp_path / "claims.csv"
    path.write_text("claim_id,patient_id,fill_date,days_supply,ndc\nC1,P1,2025-01-01,30,00093713501\n")
    with pytest.raises(SerosurvError, match="given twice"):
        ingest.check_claims_files([path, tmp_path / "." / "claims.csv"])


def test_trimmed_text_is_trim_and_nullif_whatever_the_ends():
    """The fast path of sql/macros/trimmed_text.sql (a value starting and ending with printable ASCII is
    taken as it is) gives exactly nullif(trim(value), '') on every kind of end: spaces, Unicode space
    separators, tabs (which trim keeps), non-ASCII letters, empty and NULL."""
    import duckdb

    from transforms.sql import create_macros

    con = duckdb.connect()
    create_macros(con, "trimmed_text")
    values = [
        None,
        "",
        " ",
        "   ",
        "C1",
        " C1",
        "C1 ",
        "  C 1  ",
        "\u00a0C1",
        "C1\u00a0",
        "\u3000C1\u3000",
        "\u2003",
        "\tC1\t",
        "é1",
        "C1é",
        " é ",
        "\u200bC1",
        "0",
        " 0 ",
    ]
    got = con.execute(
        "select v, trimmed_text(v), nullif(trim(v), '') from unnest($values::varchar[]) as t (v)",
        {"values": values},
    ).fetchall()
    assert len(got) == len(values)
    assert all(fast == exact for _, fast, exact in got), [g for g in got if g[1] != g[2]]
