"""Canonical claims CSV (issue 17, item 8): the delimiter is told from the header (comma, tab, pipe or
semicolon), and said when it is not the default; a quantity of 0 or empty is unknown (NULL), not a
quarantined row. Rows reconcile in every case."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from serosurv.core.warehouse import rows
from tests.test_ingest_reading import night
from transforms import ingest, text_encoding

COLUMNS = ("claim_id", "patient_id", "fill_date", "days_supply", "drug_name", "quantity", "prescriber_id")
# Values that hold the other delimiters, so that counting characters would guess wrong.
LINES = (
    ("C1", "PATZ1", "2025-03-01", "30", "sertraline 50 mg; tablet", "30", "PR-1"),
    ("C2", "PATZ1", "2025-03-02", "30", "tramadol, 50 mg|tab", "60", "PR-2"),
)


def claims(tmp_path: Path, separator: str, name: str = "claims.csv") -> Path:
    def quoted(value: str) -> str:
        return f'"{value}"' if any(s in value for s in ",\t|;") else value

    text = "\n".join(separator.join(quoted(v) for v in line) for line in (COLUMNS, *LINES)) + "\n"
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("separator", "word"), [(",", None), ("\t", "tab"), ("|", "pipe"), (";", "semicolon")]
)
def test_the_delimiter_is_told_from_the_header_and_said_when_not_the_default(
    warehouse, tmp_path, caplog, separator, word
):
    path = claims(tmp_path, separator)
    with caplog.at_level(logging.INFO, logger="serosurv"):
        counts = night(warehouse, [path])
    assert (counts.rows_read, counts.rows_accepted) == (2, 2)
    assert rows(warehouse, "SELECT claim_id, drug_name, quantity, prescriber_id FROM claims ORDER BY 1") == [
        ("C1", "sertraline 50 mg; tablet", 30.0, "PR-1"),
        ("C2", "tramadol, 50 mg|tab", 60.0, "PR-2"),
    ]
    said = [r.getMessage() for r in caplog.records if "separated" in r.getMessage()]
    if word is None:
        assert said == []
    else:
        assert said == [
            f"claims.csv: read as {word}-separated (its header's columns are separated by "
            f"{separator!r}, not by commas)"
        ]
        assert "PATZ" not in said[0]


def test_a_tsv_file_defaults_to_tabs_and_a_comma_tsv_is_still_read(warehouse, tmp_path):
    tab = claims(tmp_path, "\t", name="claims.tsv")
    comma = claims(tmp_path, ",", name="commas.tsv")
    how = text_encoding.reading(tab, "auto")
    assert ingest.sniff_separator(tab, how) == "\t"
    assert ingest.sniff_separator(comma, text_encoding.reading(comma, "auto")) == ","


def test_a_header_the_delimiters_do_not_split_into_names_keeps_the_default(tmp_path):
    """A file without a header row keeps the default, so the refusal names the missing columns."""
    path = tmp_path / "claims.csv"
    path.write_text("C1|PATZ1|2025-03-01|30|sertraline\n", encoding="utf-8")
    assert ingest.sniff_separator(path, text_encoding.reading(path, "auto")) == ","


def test_quantity_zero_or_empty_is_unknown_and_a_negative_one_is_quarantined(warehouse, tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text(
        "claim_id,patient_id,fill_date,days_supply,drug_name,quantity\n"
        "C1,PATZ1,2025-03-01,30,sertraline,0\n"
        "C2,PATZ1,2025-03-01,30,tramadol,\n"
        "C3,PATZ1,2025-03-01,30,tramadol,0.0\n"
        "C4,PATZ1,2025-03-01,30,tramadol,  \n"
        "C5,PATZ1,2025-03-01,30,tramadol,-1\n"
        "C6,PATZ1,2025-03-01,30,tramadol,2.5\n",
        encoding="utf-8",
    )
    counts = night(warehouse, [path])
    assert (counts.rows_accepted, counts.reasons) == (5, {"bad_quantity": 1})
    assert rows(warehouse, "SELECT claim_id, quantity FROM claims ORDER BY 1") == [
        ("C1", None),
        ("C2", None),
        ("C3", None),
        ("C4", None),
        ("C6", 2.5),
    ]
    assert rows(warehouse, "SELECT source_row, reason FROM quarantine") == [
        (5, "quantity '-1' is not a number above 0 (0 or empty: unknown)")
    ]
