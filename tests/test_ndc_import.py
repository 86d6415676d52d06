"""FDA NDC Directory import: product.txt + package.txt as FDA publishes them -> ref_ndc rows.

The sample in tests/data/ndc/ has the exact FDA column layout (Windows-1252, CRLF line ends) with made-up
labeler codes (999xx, 099x), so none of its NDCs belongs to a real product.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from serosurv.core.drugnames import normalise_ndc
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import load_rules
from transforms.ndc_import import SOURCE, import_ndc_directory

SAMPLE = Path(__file__).parent / "data" / "ndc"


@pytest.fixture(scope="module")
def ruleset():
    return load_rules()


def _ref_ndc(con, where: str = "TRUE") -> list[tuple]:
    return con.execute(
        f"SELECT ndc, ingredient, route, product_name, source FROM ref_ndc WHERE {where} ORDER BY ndc, ingredient"
    ).fetchall()


def _copy_sample(tmp_path: Path) -> Path:
    folder = tmp_path / "ndc"
    shutil.copytree(SAMPLE, folder)
    return folder


def test_import_counts_products_packages_and_mapped_packages(warehouse, ruleset):
    counts = import_ndc_directory(warehouse, SAMPLE, ruleset)
    assert counts == {
        "products_read": 16,
        "packages_read": 25,
        "packages_mapped": 23,  # all but the two metformin packages
        "ingredients": 8,
        "rows_written": 23,
        "packages_without_valid_ndc": 0,
    }


@pytest.mark.parametrize(
    ("package_code", "expected"),
    [
        # 5-4-2 stays as it is, without hyphens
        ("99901-0101-30", ("99901010130", "sertraline", None, "Sertraline Hydrochloride", SOURCE)),
        # 4-4-2: the labeler gets the leading zero; a brand name maps through the substance
        ("0999-4910-30", ("00999491030", "sertraline", None, "Zoloft", SOURCE)),
        # 5-3-2: the product segment gets the zero
        ("99902-155-01", ("99902015501", "tramadol", None, "Tramadol Hydrochloride", SOURCE)),
        # 5-4-1: the package segment gets the zero; Emsam is transdermal selegiline (rule R30)
        ("99903-0906-3", ("99903090603", "selegiline", "transdermal", "Emsam", SOURCE)),
        ("99904-412-60", ("99904041260", "selegiline", "oral", "Selegiline Hydrochloride", SOURCE)),
        ("99905-0051-5", ("99905005105", "methylene blue", "iv", "ProvayBlue", SOURCE)),
        # the route of linezolid does not change the risk, so an IV bag carries no route
        ("99908-0610-01", ("99908061001", "linezolid", None, "Linezolid", SOURCE)),
        ("0998-0270-60", ("00998027060", "phenelzine", None, "Nardil", SOURCE)),
        # the proprietary name suffix is part of the product name
        ("99911-0330-04", ("99911033004", "dextromethorphan", None, "Cough and Chest Congestion DM", SOURCE)),
    ],
)
def test_package_codes_become_11_digit_ndcs_with_their_ingredient_and_route(
    warehouse, ruleset, package_code, expected
):
    import_ndc_directory(warehouse, SAMPLE, ruleset)
    assert _ref_ndc(warehouse, f"ndc = '{normalise_ndc(package_code)}'") == [expected]


def test_combination_products_keep_only_their_agent_ingredients(warehouse, ruleset):
    import_ndc_directory(warehouse, SAMPLE, ruleset)
    # tramadol/acetaminophen: acetaminophen is not an agent
    assert _ref_ndc(warehouse, "ndc = '99902016760'") == [
        ("99902016760", "tramadol", None, "Tramadol Hydrochloride and Acetaminophen", SOURCE)
    ]
    # a five-ingredient urinary antiseptic tablet holds oral methylene blue
    assert _ref_ndc(warehouse, "ndc = '99910011201'") == [
        ("99910011201", "methylene blue", "oral", "Uro-MB", SOURCE)
    ]


def test_products_without_an_agent_are_not_imported(warehouse, ruleset):
    import_ndc_directory(warehouse, SAMPLE, ruleset)
    assert _ref_ndc(warehouse, "ndc IN ('99909050001', '99909050010')") == []
    assert _ref_ndc(warehouse, "product_name ILIKE '%metformin%'") == []


def test_every_imported_ndc_is_normalise_ndc_of_a_package_code(warehouse, ruleset):
    import_ndc_directory(warehouse, SAMPLE, ruleset)
    lines = (SAMPLE / "package.txt").read_text(encoding="cp1252").splitlines()[1:]
    codes = {normalise_ndc(line.split("\t")[2]) for line in lines}
    imported = {row[0] for row in _ref_ndc(warehouse)}
    assert imported <= codes and len(imported) == 23


def test_import_replaces_previous_fda_rows_and_keeps_other_sources(warehouse, ruleset):
    warehouse.execute(
        "INSERT INTO ref_ndc VALUES ('12345678901', 'sertraline', NULL, 'old FDA row', $s)", {"s": SOURCE}
    )
    warehouse.execute("INSERT INTO ref_ndc VALUES ('00000000001', 'sertraline', NULL, 'Zoloft', 'manual')")
    import_ndc_directory(warehouse, SAMPLE, ruleset)
    import_ndc_directory(warehouse, SAMPLE, ruleset)  # a rerun gives the same table
    assert _ref_ndc(warehouse, "ndc = '12345678901'") == []
    assert _ref_ndc(warehouse, "source = 'manual'") == [
        ("00000000001", "sertraline", None, "Zoloft", "manual")
    ]
    assert warehouse.execute("SELECT count(*) FROM ref_ndc WHERE source = $s", {"s": SOURCE}).fetchone() == (
        23,
    )


def test_utf8_files_with_unix_line_ends_give_the_same_rows(warehouse, ruleset, tmp_path):
    raw = (SAMPLE / "product.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the sample really is Windows-1252 ("Société" in a labeler name)
    import_ndc_directory(warehouse, SAMPLE, ruleset)
    from_cp1252 = _ref_ndc(warehouse)
    folder = tmp_path / "utf8"
    folder.mkdir()
    for name in ("product.txt", "package.txt"):
        text = (SAMPLE / name).read_text(encoding="cp1252").replace("\r\n", "\n")
        (folder / name).write_text(text, encoding="utf-8-sig")
    import_ndc_directory(warehouse, folder, ruleset)
    assert _ref_ndc(warehouse) == from_cp1252


def test_missing_column_is_refused_naming_file_and_column(warehouse, ruleset, tmp_path):
    folder = _copy_sample(tmp_path)
    path = folder / "product.txt"
    lines = path.read_bytes().split(b"\r\n")
    column = lines[0].split(b"\t").index(b"SUBSTANCENAME")
    path.write_bytes(
        b"\r\n".join(b"\t".join(p for i, p in enumerate(line.split(b"\t")) if i != column) for line in lines)
    )
    warehouse.execute(
        "INSERT INTO ref_ndc VALUES ('12345678901', 'sertraline', NULL, 'kept', $s)", {"s": SOURCE}
    )
    with pytest.raises(SerosurvError) as caught:
        import_ndc_directory(warehouse, folder, ruleset)
    message = str(caught.value)
    assert "product.txt has no column SUBSTANCENAME" in message
    assert message.count(". ") == 0 and message.endswith(".")
    assert caught.value.exit_code == 2
    assert _ref_ndc(warehouse) == [("12345678901", "sertraline", None, "kept", SOURCE)]


def test_missing_package_column_is_refused(warehouse, ruleset, tmp_path):
    folder = _copy_sample(tmp_path)
    path = folder / "package.txt"
    path.write_bytes(path.read_bytes().replace(b"NDCPACKAGECODE", b"PACKAGECODE", 1))
    with pytest.raises(SerosurvError, match=r"package\.txt has no column NDCPACKAGECODE"):
        import_ndc_directory(warehouse, folder, ruleset)


def test_missing_file_is_refused_naming_it(warehouse, ruleset, tmp_path):
    folder = _copy_sample(tmp_path)
    (folder / "package.txt").unlink()
    with pytest.raises(SerosurvError, match=r"package\.txt is missing"):
        import_ndc_directory(warehouse, folder, ruleset)
