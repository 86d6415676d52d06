"""Names, NDCs and RxCUIs as pharmacies send them map to rule-set ingredients."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from serosurv.core.drugnames import map_drug_name, map_rxcui, normalise_ndc
from serosurv.core.rules import load_rules


@pytest.fixture(scope="module")
def ruleset():
    return load_rules()


NAMES = [
    # case and tall-man lettering
    ("DULoxetine", [("duloxetine", None)]),
    ("TraMADOL (Ultram)", [("tramadol", None)]),
    ("sertraline", [("sertraline", None)]),
    ("FLUoxetine", [("fluoxetine", None)]),
    ("buPROPion XL 150 mg", [("bupropion", None)]),
    # salts and esters
    ("Escitalopram Oxalate", [("escitalopram", None)]),
    ("sertraline HCl", [("sertraline", None)]),
    ("Fentanyl Citrate", [("fentanyl", None)]),
    ("venlafaxine hydrochloride ER", [("venlafaxine", None)]),
    ("Dextromethorphan HBr 30 mg/5 mL", [("dextromethorphan", None)]),
    ("lithium carbonate 300 mg cap", [("lithium", None)]),
    ("morphine sulfate ER 15 mg", [("morphine", None)]),
    ("Lisdexamfetamine dimesylate 30 mg", [("lisdexamfetamine", None)]),
    ("ondansetron ODT 4 mg", [("ondansetron", None)]),
    # strengths, units, dose forms
    ("Sertraline 50 mg tab", [("sertraline", None)]),
    ("ZOLOFT 100MG TABLET", [("sertraline", None)]),
    ("fluoxetine 20mg/5ml oral soln", [("fluoxetine", None)]),
    ("citalopram20mg", [("citalopram", None)]),
    ("Trazodone 50 MG Oral Tablet", [("trazodone", None)]),
    ("amitriptyline 10 mg tablet", [("amitriptyline", None)]),
    ("Cyclobenzaprine 10mg", [("cyclobenzaprine", None)]),
    # brands (and brands in parentheses)
    ("Lexapro 10 mg", [("escitalopram", None)]),
    ("Cymbalta 60 mg DR cap", [("duloxetine", None)]),
    ("paroxetine (Paxil CR) 25 mg", [("paroxetine", None)]),
    ("NARDIL", [("phenelzine", None)]),
    ("Zyvox 600 mg", [("linezolid", None)]),
    ("Imitrex 100 mg", [("sumatriptan", None)]),
    ("Maxalt-MLT 10 mg", [("rizatriptan", None)]),
    ("Ambien CR 12.5 mg", [("zolpidem", None)]),
    ("Demerol", [("meperidine", None)]),
    # combination products
    ("tramadol/acetaminophen", [("tramadol", None)]),
    ("Tramadol-APAP 37.5-325", [("tramadol", None)]),
    ("hydrocodone bitartrate and acetaminophen", [("hydrocodone", None)]),
    ("Ultracet", [("tramadol", None)]),
    ("Percocet 5/325", [("oxycodone", None)]),
    ("Norco 10-325", [("hydrocodone", None)]),
    ("VICODIN", [("hydrocodone", None)]),
    ("Adderall 20 mg", [("amphetamine", None), ("dextroamphetamine", None)]),
    ("Auvelity 45-105 mg", [("bupropion", None), ("dextromethorphan", None)]),
    ("Symbyax 6-25", [("fluoxetine", None)]),
    ("Treximet 85-500", [("sumatriptan", None)]),
    ("perphenazine/amitriptyline 2-25", [("amitriptyline", None)]),
    ("buprenorphine-naloxone (Suboxone) 8-2 mg film", [("buprenorphine", None)]),
    ("dextroamphetamine sacch/amphetamine asp", [("amphetamine", None), ("dextroamphetamine", None)]),
    # synonyms, abbreviations, misspellings
    ("pethidine", [("meperidine", None)]),
    ("5-HTP 100 mg", [("oxitriptan", None)]),
    ("5HTP", [("oxitriptan", None)]),
    ("St. John's Wort 300 mg", [("st john's wort", None)]),
    ("st johns wort", [("st john's wort", None)]),
    ("Hypericum perforatum extract", [("st john's wort", None)]),
    ("MDMA", [("midomafetamine", None)]),
    ("trazadone", [("trazodone", None)]),
    ("buproprion SR", [("bupropion", None)]),
    ("L-Tryptophan 500 mg", [("tryptophan", None)]),
    # routes where a rule needs them
    ("Emsam 6 mg/24 hr", [("selegiline", "transdermal")]),
    ("selegiline transdermal system", [("selegiline", "transdermal")]),
    ("Selegiline 9 mg/24hr patch", [("selegiline", "transdermal")]),
    ("selegiline HCl 5 mg capsule", [("selegiline", "oral")]),
    ("selegiline", [("selegiline", None)]),
    ("methylene blue 1% injection", [("methylene blue", "iv")]),
    ("Methylene Blue IV 50 mg/10 mL vial", [("methylene blue", "iv")]),
    ("ProvayBlue", [("methylene blue", "iv")]),
    ("Fentanyl 25 mcg/hr transdermal patch", [("fentanyl", None)]),  # route does not matter for fentanyl
    # not agents
    ("metformin", []),
    ("lisinopril 10 mg tab", []),
    ("acetaminophen 500 mg", []),
    ("olanzapine", []),
    ("Robitussin", []),
    ("", []),
]


@pytest.mark.parametrize(("name", "expected"), NAMES)
def test_map_drug_name(ruleset, name, expected):
    assert map_drug_name(name, ruleset) == expected


def test_map_drug_name_is_fast_enough(ruleset):
    names = [name for name, _ in NAMES]
    map_drug_name(names[0], ruleset)  # build the index once
    start = time.perf_counter()
    for name in names * 20:
        map_drug_name(name, ruleset)
    per_name = (time.perf_counter() - start) / (len(names) * 20)
    assert per_name < 0.001


def test_map_drug_name_knows_comparators_only_by_their_agent_rows(ruleset):
    assert map_drug_name("zolpidem tartrate 10 mg", ruleset) == [("zolpidem", None)]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("36437", "sertraline"),
        (4493, "fluoxetine"),
        (" 10689 ", "tramadol"),
        ("6878", "methylene blue"),
        ("999999999", None),
        ("", None),
        (None, None),
        ("R05", None),
    ],
)
def test_map_rxcui(ruleset, code, expected):
    assert map_rxcui(code, ruleset) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00093715401", "00093715401"),  # 11 digits pass through
        ("0093-7154-01", "00093715401"),  # 4-4-2: pad the labeler
        ("00093-154-01", "00093015401"),  # 5-3-2: pad the product
        ("00093-7154-1", "00093715401"),  # 5-4-1: pad the package
        ("00093-7154-01", "00093715401"),  # 5-4-2: drop the hyphens
        (" 0093-7154-01 ", "00093715401"),  # surrounding spaces
        ("0093715401", None),  # 10 digits without hyphens: ambiguous
        ("009371540", None),
        ("000937154011", None),  # 12 digits
        ("0093-71540-1", None),  # 4-5-1 is not an NDC layout
        ("00093 7154 01", None),
        ("abc-defg-hi", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_ndc(text, expected):
    assert normalise_ndc(text) == expected


# ---------------------------------------------------------------------------- issue 14: no serotonergic name is silent

SILENT_BEFORE = [
    ("Focalin", [("dexmethylphenidate", None)]),
    ("Focalin XR 20 mg", [("dexmethylphenidate", None)]),
    ("Methylin 10 mg chewable", [("methylphenidate", None)]),
    ("Daytrana 15 mg/9 hr patch", [("methylphenidate", None)]),
    ("Mydayis 25 mg", [("amphetamine", None), ("dextroamphetamine", None)]),
    ("Xelstrym 9 mg/9 hr", [("dextroamphetamine", None)]),
    ("Fintepla 2.2 mg/mL", [("fenfluramine", None)]),
    ("Matulane 50 mg", [("procarbazine", None)]),
    ("Belviq 10 mg", [("lorcaserin", None)]),
    ("Contrave 8-90 mg", [("bupropion", None)]),
    ("Eskalith 300 mg", [("lithium", None)]),
    ("Mucinex DM", [("dextromethorphan", None)]),
    ("NyQuil Cold & Flu", [("dextromethorphan", None)]),
    ("DayQuil Severe", [("dextromethorphan", None)]),
    ("Coricidin HBP Cough & Cold", [("dextromethorphan", None)]),
    ("meth blue", [("methylene blue", None)]),
]


@pytest.mark.parametrize(("name", "expected"), SILENT_BEFORE, ids=[n for n, _ in SILENT_BEFORE])
def test_serotonergic_names_that_went_unmapped_now_map(ruleset, name, expected):
    assert map_drug_name(name, ruleset) == expected


@pytest.mark.parametrize("name", ["Sudafed PE", "NyQuil Sinex", "DayQuil Sinex", "Coricidin HBP Cold & Flu"])
def test_products_of_a_brand_family_without_the_agent_map_to_nothing(ruleset, name):
    assert map_drug_name(name, ruleset) == []


def test_accents_are_dropped_before_matching(ruleset):
    assert map_drug_name("Fluoxétine 20 mg gélule", ruleset) == [("fluoxetine", None)]


def test_urinary_antiseptics_with_methylene_blue_are_oral(ruleset):
    for name in ("Urelle", "Uribel", "Uro-MP", "Ustell", "methylene blue 10 mg oral tablet"):
        assert map_drug_name(name, ruleset) == [("methylene blue", "oral")], name


def _approximately(names: list[str], ruleset) -> dict[str, list[tuple[str, str]]]:
    import duckdb

    from serosurv.core.warehouse import ensure_schema
    from transforms import normalise

    con = duckdb.connect()
    ensure_schema(con)
    for i, name in enumerate(names):
        con.execute(
            "INSERT INTO claims (claim_id, patient_id, fill_date, days_supply, drug_name, run_id) "
            "VALUES (?, 'P1', DATE '2025-01-01', 30, ?, 'r1')",
            [f"C{i}", name],
        )
    counts = normalise.map_ingredients(con, ruleset, "r1")
    found: dict[str, list[tuple[str, str]]] = {name: [] for name in names}
    for name, ingredient, mapped_by in con.execute(
        "SELECT c.drug_name, f.ingredient, f.mapped_by FROM claims c JOIN fill_ingredients f USING (patient_id, claim_id) ORDER BY ALL"
    ).fetchall():
        found[name].append((ingredient, mapped_by))
    found["__counts__"] = counts  # type: ignore[assignment]
    found["__listed__"] = con.execute(  # type: ignore[assignment]
        "SELECT drug_name, likely_match, ingredients, fills FROM approximate_names ORDER BY drug_name"
    ).fetchall()
    return found


def test_misspelt_and_foreign_names_map_approximately_and_are_listed(ruleset):
    names = [
        "sertaline 50 mg",
        "setraline",
        "sertralin 100mg",
        "fluoxetin 20 mg",
        "Sertralina clorhidrato 50 mg",
        "Zolof 50 mg",
    ]
    found = _approximately([*names, "loxapine 10 mg", "metformin 500 mg", "sertraline 50 mg"], ruleset)
    for name in names:
        expected = "fluoxetine" if "fluox" in name else "sertraline"
        assert found[name] == [(expected, "name_approx")], name
    assert found["loxapine 10 mg"] == []  # a real drug one letter from nothing we know, two from amoxapine
    assert found["metformin 500 mg"] == []
    assert found["sertraline 50 mg"] == [("sertraline", "name")]
    assert found["__counts__"]["claims_mapped_by_name_approx"] == len(names)
    assert ("sertaline 50 mg", "sertaline ~ sertraline", "sertraline", 1) in found["__listed__"]
    assert ("Sertralina clorhidrato 50 mg", "sertralina ~ sertraline", "sertraline", 1) in found["__listed__"]


def test_an_ambiguous_misspelling_is_not_guessed(ruleset):
    # "fluvoxetine" is two edits from fluoxetine and two from fluvoxamine? It must map to one or nothing.
    found = _approximately(["fluvoxetine"], ruleset)
    assert len({ingredient for ingredient, _ in found["fluvoxetine"]}) <= 1


def test_a_pharmacist_accepts_a_name_into_synonyms(tmp_path, ruleset):
    import shutil

    from serosurv.core.errors import SerosurvError
    from serosurv.core.rules import add_synonym

    folder = tmp_path / "rules"
    shutil.copytree(Path(__file__).resolve().parents[1] / "rules", folder)
    add_synonym("Sertralina", ["sertraline"], "pharmacist review 2026-12", rules_dir=folder)
    edited = load_rules(folder)
    assert map_drug_name("Sertralina 50 mg", edited) == [("sertraline", None)]
    assert edited.hash != ruleset.hash
    with pytest.raises(
        SerosurvError, match=r"synonyms.csv line \d+, field ingredients: unknown ingredient 'metformin'"
    ):
        add_synonym("Glucophage", ["metformin"], "x", rules_dir=folder)
    assert str(tmp_path / "rules" / "synonyms.csv") in str(
        pytest.raises(SerosurvError, add_synonym, "Zoloft", ["sertraline"], "x", rules_dir=folder).value
    )
