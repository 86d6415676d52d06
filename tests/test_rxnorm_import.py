"""serosurv reference import-rxnorm (an RxNorm release, an OMOP vocabulary) and import-ndc of a CSV.

The layouts in tests/data/rxnorm/ are written by hand in the published formats (NLM's RRF files: pipe-
delimited, positional; Athena's OMOP vocabulary tables: tab-delimited with a header). Real codes where
RxNorm has them (36437 sertraline, 312941, 208161 Zoloft, 865206 Emsam's generic, 836395 tramadol/APAP),
made-up 91000xx codes for the term types a claim rarely carries (PIN, SBDC, SCDF, SCDG, packs), and traps:
a brand name shared by a product without the rule ingredient ("Cold Plus Brand": dextromethorphan and
phenylephrine products, 9100012 holds phenylephrine only), a VANDF relationship and an invalid OMOP
relationship that would make lisinopril hold sertraline, an invalid NDC mapping.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from serosurv import api
from serosurv.cli import main
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import load_rules
from transforms import normalise
from transforms.sql import insert_frame

DATA = Path(__file__).parent / "data" / "rxnorm"

# (rxcui, ingredient, route) every layout must give, checked by hand against the files
SERTRALINE = {
    ("36437", "sertraline", None),  # IN
    ("328671", "sertraline", None),  # SCDC
    ("312941", "sertraline", None),  # SCD
    ("208161", "sertraline", None),  # SBD Zoloft
    ("9100003", "sertraline", None),  # SCDF
    ("9100005", "sertraline", None),  # GPCK
}
OTHERS = {
    ("9639", "selegiline", None),
    ("9100007", "selegiline", None),  # SCDC: its name states no route
    ("865206", "selegiline", "transdermal"),  # the route matters for selegiline and the name states it
    ("10689", "tramadol", None),
    ("9100008", "tramadol", None),
    ("836395", "tramadol", None),  # acetaminophen / tramadol: only the rule ingredient
    ("3289", "dextromethorphan", None),
}
RELEASE = (
    SERTRALINE
    | OTHERS
    | {
        ("82728", "sertraline", None),  # BN Zoloft (tradename_of sertraline)
        ("9100001", "sertraline", None),  # PIN (form_of)
        ("9100002", "sertraline", None),  # SBDC
        ("9100004", "sertraline", None),  # SCDG
        ("9100006", "sertraline", None),  # BPCK (contains the SBD)
        ("9100010", "tramadol", None),  # MIN
        ("9100011", "dextromethorphan", None),  # BN Cold Plus Brand: the brand itself, never its products
        ("42351", "lithium", None),  # "lithium carbonate" is lithium by name
        ("9100016", "lithium", None),
        ("9100015", "lithium", None),
        ("6878", "methylene blue", None),
        ("9100017", "methylene blue", None),
        ("1737850", "methylene blue", "iv"),
    }
)
OMOP_ANCESTOR = SERTRALINE | OTHERS  # CONCEPT_ANCESTOR holds no brand names or precise ingredients
OMOP_RELATIONSHIP = (
    SERTRALINE
    | OTHERS
    | {
        ("82728", "sertraline", None),
        ("9100001", "sertraline", None),
        ("9100011", "dextromethorphan", None),
    }
)


def ref_rxnorm(path: Path) -> set[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return set(con.execute("select rxcui, ingredient, route from ref_rxnorm").fetchall())
    finally:
        con.close()


@pytest.mark.parametrize(
    ("folder", "expected", "layout"),
    [
        (DATA / "release", RELEASE, "RxNorm release"),
        (DATA / "release" / "rrf", RELEASE, "RxNorm release"),
        (DATA / "omop_ancestor", OMOP_ANCESTOR, "OMOP vocabulary"),
        (DATA / "omop_relationship", OMOP_RELATIONSHIP, "OMOP vocabulary"),
    ],
)
def test_every_code_of_a_release_maps_to_its_rule_ingredients(tmp_path, folder, expected, layout):
    warehouse = tmp_path / "w.duckdb"
    counts = api.import_rxnorm(folder, warehouse=warehouse)
    assert ref_rxnorm(warehouse) == expected
    assert counts["layout"] == layout
    assert counts["codes_mapped"] == len({rxcui for rxcui, _, _ in expected}) == counts["rows_written"]
    # never the traps: lisinopril (VANDF / invalid relationships), the phenylephrine product of a shared
    # brand, acetaminophen's component
    assert not {"314076", "9100012", "9100009"} & {rxcui for rxcui, _, _ in ref_rxnorm(warehouse)}


def test_an_omop_vocabulary_with_relationships_brings_its_ndcs(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    counts = api.import_rxnorm(DATA / "omop_relationship", warehouse=warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        ndcs = con.execute("select ndc, ingredient, source from ref_ndc").fetchall()
    finally:
        con.close()
    # Zoloft 00049490030 maps to 208161; lisinopril's NDC holds no rule drug; 99999000001's mapping is invalid
    assert ndcs == [("00049490030", "sertraline", "omop_vocabulary")] and counts["ndcs_mapped"] == 1


def test_an_import_replaces_its_own_kind_and_keeps_the_other(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    api.import_rxnorm(DATA / "release", warehouse=warehouse)
    api.import_rxnorm(DATA / "omop_ancestor", warehouse=warehouse)
    api.import_rxnorm(DATA / "omop_ancestor", warehouse=warehouse)  # twice: replaced, not doubled
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        by_source = dict(con.execute("select source, count(*) from ref_rxnorm group by all").fetchall())
    finally:
        con.close()
    assert by_source == {"rxnorm_release": len(RELEASE), "omop_vocabulary": len(OMOP_ANCESTOR)}


def test_imported_codes_map_claims_the_shipped_crosswalk_does_not_know(tmp_path):
    """9100006 (a BPCK) and 9100004 (an SCDG) exist only in the test release: unmapped before the import,
    sertraline after; the engine's fingerprint changes with the import, so the next night recomputes."""
    from transforms.incremental import fingerprint

    warehouse = tmp_path / "w.duckdb"
    claims = pl.DataFrame(
        {
            "claim_id": ["C1", "C2", "C3"],
            "patient_id": ["P1", "P1", "P2"],
            "fill_date": ["2025-01-01"] * 3,
            "days_supply": [30] * 3,
            "rxcui": ["9100006", "9100004", "208161"],
            "claim_status": ["paid"] * 3,
            "run_id": ["r1"] * 3,
        }
    ).with_columns(pl.col("fill_date").str.to_date())
    ruleset = load_rules()

    def mapped() -> tuple[set, str]:
        con = api_connect(warehouse)
        try:
            normalise.map_ingredients(con, ruleset, "r1")
            return set(
                con.execute("select claim_id, ingredient, mapped_by from fill_ingredients").fetchall()
            ), (fingerprint(con, "config", ruleset.hash))
        finally:
            con.close()

    con = api_connect(warehouse)
    insert_frame(con, "claims", claims)
    con.close()
    before, print_before = mapped()
    assert before == {("C3", "sertraline", "rxcui")}  # the shipped crosswalk knows Zoloft 50 mg
    api.import_rxnorm(DATA / "release", warehouse=warehouse)
    after, print_after = mapped()
    assert after == {(c, "sertraline", "rxcui") for c in ("C1", "C2", "C3")}
    assert print_before != print_after


def api_connect(path: Path):
    from serosurv.core.warehouse import connect

    return connect(path)


def test_a_folder_without_a_release_is_one_sentence(tmp_path):
    (tmp_path / "RXNCONSO.RRF").write_text("x\n")
    with pytest.raises(SerosurvError) as error:
        api.import_rxnorm(tmp_path, warehouse=tmp_path / "w.duckdb")
    assert str(error.value) == (
        f"{tmp_path} holds neither an RxNorm release (RXNCONSO.RRF and RXNREL.RRF, there or in its rrf/ folder) "
        "nor an OMOP vocabulary (CONCEPT.csv with CONCEPT_ANCESTOR.csv or CONCEPT_RELATIONSHIP.csv); unzip the "
        "download and give its folder."
    )
    assert not (tmp_path / "w.duckdb").exists() or ref_rxnorm(tmp_path / "w.duckdb") == set()


def test_files_in_another_layout_are_one_sentence_naming_the_file(tmp_path):
    (tmp_path / "RXNCONSO.RRF").write_text("36437|ENG|sertraline\n")
    (tmp_path / "RXNREL.RRF").write_text("36437||CUI|RN|9100001||CUI|form_of|9300001||RXNORM||||N||\n")
    with pytest.raises(
        SerosurvError, match=r"RXNCONSO.RRF has 3 fields per line where an RxNorm RRF file has 15"
    ):
        api.import_rxnorm(tmp_path, warehouse=tmp_path / "w.duckdb")
    omop = tmp_path / "omop"
    omop.mkdir()
    (omop / "CONCEPT.csv").write_text("concept_id\tconcept_name\n1\tsertraline\n")
    (omop / "CONCEPT_ANCESTOR.csv").write_text("ancestor_concept_id\tdescendant_concept_id\n1\t1\n")
    with pytest.raises(
        SerosurvError, match=r"CONCEPT.csv has no column vocabulary_id; use the OMOP vocabulary"
    ):
        api.import_rxnorm(omop, warehouse=tmp_path / "w.duckdb")


def test_the_cli_says_what_it_imported(tmp_path, capsys):
    warehouse = tmp_path / "w.duckdb"
    assert (
        main(["reference", "import-rxnorm", str(DATA / "omop_relationship"), "--warehouse", str(warehouse)])
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith(
        f"OMOP vocabulary from {DATA / 'omop_relationship'}: 25 RxNorm concepts read, 4 of them ingredient codes of "
        f"4 rule-set ingredients; 16 codes hold one or more of them (16 rows written to ref_rxnorm in {warehouse}, "
        "source 'omop_vocabulary')."
    )
    assert "1 of its NDCs map to those codes (written to ref_ndc)." in out


# ---------------------------------------------------------------------------- import-ndc of a CSV


def test_a_csv_of_ndcs_and_rxcuis_maps_through_rxnorm(tmp_path):
    """ndc,rxcui rows: 11 digits, 4-4-2 and 5-4-1 with hyphens; a 10-digit NDC without hyphens is skipped (its
    layout is unknown) and named; lisinopril's RxCUI holds no rule ingredient."""
    path = tmp_path / "my_ndcs.csv"
    path.write_text(
        "ndc,rxcui\n"
        "99999000001,208161\n"  # a made-up NDC for Zoloft 50 mg (shipped crosswalk: 208161 -> sertraline)
        "9999-0001-02,835603\n"  # tramadol 50 mg
        "99998-0001-3,865208\n"  # Emsam: selegiline, transdermal
        "9999000104,208161\n"
        "99999000005,314076\n"  # lisinopril 10 mg
    )
    counts = api.import_ndc(path, warehouse=tmp_path / "w.duckdb")
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        rows = con.execute("select ndc, ingredient, route, source from ref_ndc order by ndc").fetchall()
    finally:
        con.close()
    assert rows == [
        ("09999000102", "tramadol", None, "csv:my_ndcs.csv"),
        ("99998000103", "selegiline", "transdermal", "csv:my_ndcs.csv"),
        ("99999000001", "sertraline", None, "csv:my_ndcs.csv"),
    ]
    assert counts["rows_read"] == 5 and counts["rows_without_valid_ndc"] == 1
    assert (counts["first_invalid_row"], counts["first_invalid_ndc"]) == (5, "9999000104")
    assert counts["rows_without_rule_ingredient"] == 1


def test_a_csv_of_ndcs_and_ingredient_names(tmp_path, capsys):
    path = tmp_path / "names.csv"
    path.write_text(
        "ndc,ingredient,route\n99999000001,Zoloft,\n99999000002,tramadol/APAP,\n99999000003,methylene blue,iv\n"
    )
    assert main(["reference", "import-ndc", str(path), "--warehouse", str(tmp_path / "w.duckdb")]) == 0
    assert capsys.readouterr().out.startswith(
        f"NDC crosswalk from {path}: 3 rows read; 3 NDCs hold one or more of 3 rule-set ingredients by their "
        "ingredient name (3 rows written to ref_ndc"
    )


SHARED_NDCS = (
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "rxnorm" / "ndc_to_rxcui_serotonergic.csv"
)


@pytest.mark.skipif(not SHARED_NDCS.is_file(), reason=f"reference data not found: {SHARED_NDCS}")
def test_nlms_ndc_crosswalk_imports_as_it_is_written(tmp_path):
    """NLM's crosswalk names its NDC column ndc11 (with rxcui, tty, name, target_ingredients): it imports as
    written, and its Symbyax package 00002-3230-30 (RxCUI 725080) holds fluoxetine."""
    counts = api.import_ndc(SHARED_NDCS, warehouse=tmp_path / "w.duckdb")
    assert counts["mapped_by"] == "rxcui" and counts["rows_without_valid_ndc"] == 0
    assert counts["rows_written"] > 10_000
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select ingredient from ref_ndc where ndc = '00002323030'").fetchall() == [
            ("fluoxetine",)
        ]


def test_a_csv_with_a_bad_route_names_the_row_and_field(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("ndc,ingredient,route\n99999000001,sertraline,oral\n99999000002,selegiline,patch\n")
    with pytest.raises(SerosurvError) as error:
        api.import_ndc(path, warehouse=tmp_path / "w.duckdb")
    assert str(error.value) == (
        f"{path} row 3, field route: 'patch' is not one of oral, transdermal, iv (leave it empty when the route "
        "does not matter)."
    )
    headerless = tmp_path / "codes.csv"
    headerless.write_text("ndc,code\n99999000001,1\n")
    with pytest.raises(
        SerosurvError, match=r"has the columns ndc, code; a CSV crosswalk has a header row with ndc"
    ):
        api.import_ndc(headerless, warehouse=tmp_path / "w.duckdb")
