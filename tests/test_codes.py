"""RxNorm codes and NDCs map out of the box, through the crosswalks shipped in rules/rxnorm/; a code that maps
nothing falls back to the name beside it, and each night records how each field mapped (night_mapping).

Every code below was checked by hand against NLM's RxNorm as assembled in
../shared/reference/rxnorm/ndc_to_rxcui_all.csv.gz and rxcui_to_ingredient.csv (the files the shipped
crosswalks are built from):

| code | type | RxNorm name | rule ingredient |
|---|---|---|---|
| 835603 | SCD | tramadol hydrochloride 50 MG Oral Tablet | tramadol |
| 208161 | SBD | sertraline 50 MG Oral Tablet [Zoloft] | sertraline |
| 1424850 | GPCK | {1 (acetaminophen ... dextromethorphan ... Oral Solution) / 1 (...) } Pack | dextromethorphan |
| 328671 | SCDC | sertraline 50 MG | sertraline |
| 82110 | PIN | tramadol hydrochloride | tramadol |
| 214488 | MIN | dextromethorphan / guaifenesin | dextromethorphan |
| 865208 | SBD | 24 HR selegiline 0.25 MG/HR Transdermal System [Emsam] | selegiline, transdermal |
| 00049490030 | NDC 4-4-2 (Pfizer, labeler 0049) | of 208161 Zoloft 50 mg | sertraline |
| 00049005001 | NDC 5-3-2 (0049-0050-01 read 5-3-2: 00049-050-01) | of 861066 sertraline 50 mg | sertraline |
| 00093005801 | NDC 5-4-1 (Teva, 00093-0058-1) | of 835603 tramadol 50 mg | tramadol |
| 00185001701 / 00185017001 | two NDCs with the same ten digits 0018501701 | fluvoxamine / sotalol | ambiguous |
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from serosurv import api
from serosurv.core.crosswalks import shipped_ndc, shipped_rxcui
from serosurv.core.drugnames import map_rxnorm_name
from serosurv.core.rules import load_rules
from tests.conftest import SHARED, query, write_csv

AS_OF = date(2025, 3, 31)
HEADER = "claim_id,patient_id,fill_date,days_supply,ndc,rxcui,drug_name,prescriber_id,pharmacy_id"
# claim -> (ndc, rxcui, drug name) and what it must map to: (ingredients, route, mapped_by)
CLAIMS = {
    # RxNorm codes alone, of every term type a claim carries
    "R-SCD": ("", "835603", "", ({"tramadol"}, None, "rxcui")),
    "R-SBD": ("", "208161", "", ({"sertraline"}, None, "rxcui")),
    "R-GPCK": ("", "1424850", "", ({"dextromethorphan"}, None, "rxcui")),
    "R-SCDC": ("", "328671", "", ({"sertraline"}, None, "rxcui")),
    "R-PIN": ("", "82110", "", ({"tramadol"}, None, "rxcui")),
    "R-MIN": ("", "214488", "", ({"dextromethorphan"}, None, "rxcui")),
    "R-IN": ("", "36437", "", ({"sertraline"}, None, "rxcui")),  # agents.csv's own ingredient code
    "R-EMSAM": ("", "865208", "", ({"selegiline"}, "transdermal", "rxcui")),
    # NDCs alone: 11 digits, 10 with hyphens in each layout, 10 without hyphens
    "N-11": ("00049490030", "", "", ({"sertraline"}, None, "ndc")),
    "N-442": ("0049-4900-30", "", "", ({"sertraline"}, None, "ndc")),
    "N-532": ("00049-050-01", "", "", ({"sertraline"}, None, "ndc")),
    "N-541": ("00093-0058-1", "", "", ({"tramadol"}, None, "ndc")),
    "N-10": ("0049490030", "", "", ({"sertraline"}, None, "ndc")),
    # codes that map nothing fall back to the name beside them
    "F-AMBIGUOUS": ("0018501701", "", "fluvoxamine 50 mg tablet", ({"fluvoxamine"}, None, "name")),
    "F-UNKNOWN-NDC": ("50000000001", "", "Zoloft 50 mg", ({"sertraline"}, None, "name")),
    "F-UNKNOWN-RXCUI": ("", "99999999", "tramadol 50 mg", ({"tramadol"}, None, "name")),
    # a code that maps wins over its name; a code of another drug maps to nothing, whatever the name says
    "C-CODE-WINS": ("00093005801", "", "sertraline", ({"tramadol"}, None, "ndc")),
    "C-NOT-RULE": ("00093111310", "", "", (set(), None, None)),  # lisinopril 10 mg (Teva)
    "C-AMBIGUOUS-ALONE": ("0018501701", "", "", (set(), None, None)),
}
# Patient A takes tramadol (SCD code) and Zoloft (NDC 10 digits) from two prescribers: an interaction found
# by codes alone. Everyone else has one claim each.
PATIENT_A = {"R-SCD", "N-10"}


def claims_file(folder: Path) -> Path:
    lines = []
    for i, (claim, (ndc, rxcui, name, _)) in enumerate(CLAIMS.items()):
        patient = "A" if claim in PATIENT_A else f"P{i:02d}"
        prescriber = "DR1" if claim == "R-SCD" else "DR2"
        lines.append(f"{claim},{patient},2025-03-20,30,{ndc},{rxcui},{name},{prescriber},PH1")
    return write_csv(folder / "claims.csv", HEADER, *lines)


@pytest.fixture(scope="module")
def coded(prefect_harness, tmp_path_factory):
    out = tmp_path_factory.mktemp("codes")
    result = api.run([claims_file(out)], out_dir=out, as_of=AS_OF, warehouse=out / "w.duckdb")
    return result, out / "w.duckdb"


def test_rxnorm_codes_and_ndcs_map_on_defaults(coded):
    _, warehouse = coded
    rows = query(warehouse, "select claim_id, ingredient, route, mapped_by from fill_ingredients")
    found: dict[str, tuple[set, str | None, str | None]] = {}
    for claim, ingredient, route, mapped_by in rows:
        ingredients, _, _ = found.setdefault(claim, (set(), route, mapped_by))
        ingredients.add(ingredient)
    expected = {claim: spec[3] for claim, spec in CLAIMS.items() if spec[3][0]}
    assert found == expected
    # the row checks accept every claim: 10-digit NDCs are kept as written, for the crosswalk to read
    assert query(warehouse, "select rows_read, rows_accepted, rows_quarantined from runs") == [
        (len(CLAIMS), len(CLAIMS), 0)
    ]
    assert query(
        warehouse, "select ndc from claims where claim_id in ('N-442', 'N-532', 'N-541', 'N-10')"
    ) == [
        ("00049490030",),
        ("00049005001",),
        ("00093005801",),
        ("0049490030",),
    ]


def test_codes_alone_find_the_interaction(coded):
    _, warehouse = coded
    assert query(
        warehouse,
        "select patient_id, ingredient_a, ingredient_b, cross_prescriber from interactions",
    ) == [("A", "sertraline", "tramadol", True)]


def test_the_night_records_how_each_field_mapped(coded):
    """Per source file and field, counted by hand from CLAIMS (every claim is a paid fill)."""
    result, warehouse = coded
    rows = query(
        warehouse,
        "select field, fills, field_maps, mapped_by_field, beside_name, beside_name_by_code from night_mapping "
        "order by field",
    )
    assert rows == [
        # 4 names (F-* and C-CODE-WINS), each maps by itself; 3 fills were mapped by their names (F-*, the
        # fallbacks; C-CODE-WINS by its NDC); the last two columns are for codes
        ("drug_name", 4, 4, 3, 0, 0),
        # 10 NDCs: N-* (5) and C-CODE-WINS map; F-AMBIGUOUS, F-UNKNOWN-NDC, C-NOT-RULE, C-AMBIGUOUS-ALONE do
        # not. Beside a name and mapping to a rule drug: F-AMBIGUOUS, F-UNKNOWN-NDC, C-CODE-WINS (1 by code)
        ("ndc", 10, 6, 6, 3, 1),
        # 9 RxNorm codes: the 8 R-* map, F-UNKNOWN-RXCUI does not; beside a name: F-UNKNOWN-RXCUI (0 by code)
        ("rxcui", 9, 8, 8, 1, 0),
    ]
    source = query(warehouse, "select distinct source_file from night_mapping")
    assert len(source) == 1 and source[0][0].endswith("claims.csv")
    attrition = dict(query(warehouse, "select measure, value from attrition where measure like 'claims_%'"))
    assert {
        k: attrition[k] for k in ("claims_mapped_by_ndc", "claims_mapped_by_rxcui", "claims_mapped_by_name")
    } == {
        "claims_mapped_by_ndc": 6,
        "claims_mapped_by_rxcui": 8,
        "claims_mapped_by_name": 3,
    }
    assert attrition["claims_with_ten_digit_ndc"] == 3 and attrition["claims_with_ambiguous_ndc"] == 2
    page = result.reports["data_quality"].read_text()
    assert "How the night's fills mapped" in page
    assert (
        '<tr><td>claims.csv</td><td>RxNorm code</td><td class="num">9</td><td class="num">8</td><td class="num">8</td>'
        '<td class="num">1</td><td class="num">0</td></tr>'
    ) in page


def test_shipped_crosswalks_keep_only_agents_and_their_routes():
    ruleset = load_rules()
    rxcui = shipped_rxcui(ruleset)
    assert set(rxcui.get_column("ingredient").unique()) <= set(ruleset.agents)
    emsam = rxcui.filter(rxcui["rxcui"] == "865208").select("ingredient", "route").rows()
    assert emsam == [("selegiline", "transdermal")]
    # a route only where the rules say it matters: tramadol's is never kept
    assert (
        rxcui.filter(rxcui["ingredient"] == "tramadol").get_column("route").null_count()
        == rxcui.filter(rxcui["ingredient"] == "tramadol").height
    )
    ndc = shipped_ndc(ruleset)
    assert ndc.filter(ndc["ndc"] == "00049490030").select("ingredient", "rxcui").rows() == [
        ("sertraline", "208161")
    ]


def test_an_rxnorm_name_is_read_without_its_brand():
    ruleset = load_rules()
    # "Sudafed" is pseudoephedrine to a pharmacy, but this Sudafed product holds none
    assert map_rxnorm_name("oxymetazoline 0.5 MG/ML Nasal Spray [Sudafed OM]", ruleset) == []
    assert [i for i, _ in map_rxnorm_name("sertraline 50 MG Oral Tablet [Zoloft]", ruleset)] == ["sertraline"]


@pytest.mark.skipif(
    not (SHARED / "reference" / "rxnorm" / "ndc_to_rxcui_all.csv.gz").is_file(),
    reason=f"RxNorm reference files not found under {SHARED / 'reference' / 'rxnorm'}",
)
def test_the_shipped_crosswalks_rebuild_byte_for_byte_from_the_reference(tmp_path):
    from tools.rxnorm_crosswalks import COLUMNS, build, csv_gzip_bytes

    rules = Path(__file__).resolve().parents[1] / "rules"
    files = build(SHARED / "reference" / "rxnorm", load_rules(rules))
    for name, rows in files.items():
        assert csv_gzip_bytes(rows, COLUMNS[name]) == (rules / name).read_bytes(), name
