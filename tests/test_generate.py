"""The synthetic generator: deterministic, contract-shaped, and its planted cases are what truth says."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serosurv.core.drugnames import map_drug_name
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import load_rules
from transforms.synthetic import generate

START, END = date(2025, 1, 1), date(2025, 12, 31)

# Checked by hand against shared/reference/interaction_rules.csv (most severe rule wins):
# (ingredient_a, ingredient_b, severity, kind, expect_flag)
EXPECTED_TEMPLATES = {
    ("phenelzine", "sertraline", "contraindicated", "overlap", True),  # R01
    ("escitalopram", "linezolid", "contraindicated", "overlap", True),  # R31
    ("tramadol", "tranylcypromine", "contraindicated", "overlap", True),  # R05
    ("selegiline", "sertraline", "contraindicated", "overlap", True),  # R30 (Emsam patch)
    ("fluoxetine", "tramadol", "major", "overlap", True),  # R45 beats R44
    ("paroxetine", "tramadol", "major", "overlap", True),  # R45
    ("duloxetine", "tramadol", "major", "overlap", True),  # R45
    ("sertraline", "tramadol", "moderate", "overlap", True),  # R44
    ("citalopram", "tramadol", "moderate", "overlap", True),  # R44
    ("sertraline", "trazodone", "moderate", "overlap", True),  # R61
    ("escitalopram", "venlafaxine", "moderate", "overlap", True),  # R62
    ("sertraline", "sumatriptan", "minor", "overlap", True),  # R51
    ("ondansetron", "sertraline", "minor", "overlap", True),  # R55
    ("duloxetine", "rizatriptan", "minor", "overlap", True),  # R51
    ("phenelzine", "sertraline", "contraindicated", "washout", True),  # R01, 14 days after the MAOI
    ("fluoxetine", "phenelzine", "contraindicated", "washout", True),  # R01, 35 days after fluoxetine
    ("phenelzine", "sertraline", "contraindicated", "washout", False),
    ("fluoxetine", "phenelzine", "contraindicated", "washout", False),
    ("oxycodone", "tramadol", "none", "overlap", False),  # only non-serotonergic R76/R49
    ("sertraline", "zolpidem", "none", "overlap", False),  # only non-serotonergic R79
    ("sertraline", "tramadol", "moderate", "overlap", False),  # the tramadol fill was reversed
}
WASHOUT_DAYS = {("phenelzine", "sertraline"): 14, ("fluoxetine", "phenelzine"): 35}  # first -> second

# Drug names as the generator's pharmacies send them, mapped independently of serosurv.core.drugnames.
NAME_PATTERNS = [
    (r"\bescitalopram|lexapro", "escitalopram"),
    (r"\bcitalopram|celexa", "citalopram"),
    (r"sertraline|zoloft", "sertraline"),
    (r"fluoxetine|prozac", "fluoxetine"),
    (r"paroxetine|paxil", "paroxetine"),
    (r"venlafaxine|effexor", "venlafaxine"),
    (r"duloxetine|cymbalta", "duloxetine"),
    (r"trazodone", "trazodone"),
    (r"tramadol|ultram", "tramadol"),
    (r"oxycodone|percocet", "oxycodone"),
    (r"linezolid|zyvox", "linezolid"),
    (r"ondansetron|zofran", "ondansetron"),
    (r"sumatriptan|imitrex", "sumatriptan"),
    (r"rizatriptan|maxalt", "rizatriptan"),
    (r"phenelzine|nardil", "phenelzine"),
    (r"tranylcypromine|parnate", "tranylcypromine"),
    (r"emsam|selegiline", "selegiline"),
    (r"zolpidem|ambien", "zolpidem"),
    (
        r"metformin|glucophage|lisinopril|atorvastatin|lipitor|levothyroxine|synthroid|amlodipine|omeprazole|prilosec",
        "not serotonergic",
    ),
]


def ingredient_of(name: str) -> str:
    for pattern, ingredient in NAME_PATTERNS:
        if re.search(pattern, name.lower()):
            return ingredient
    raise AssertionError(f"planted fill with an unexpected drug name: {name}")


@pytest.fixture(scope="module", params=["general", "serotonergic"])
def population(request, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("population")
    result = generate(out, patients=20_000, seed=42, workload=request.param)
    return {
        "workload": request.param,
        "result": result,
        "claims": pl.read_parquet(result["claims"]),
        "patients": pl.read_parquet(result["patients"]),
        "truth": pl.read_parquet(result["truth"]),
    }


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path: Path):
    first = generate(tmp_path / "a", patients=400, seed=7, chunk_patients=150)
    again = generate(tmp_path / "b", patients=400, seed=7, chunk_patients=150)
    other = generate(tmp_path / "c", patients=400, seed=8, chunk_patients=150)
    for name in ("claims", "patients", "truth"):
        assert first[name].read_bytes() == again[name].read_bytes(), name
    assert not pq.read_table(first["claims"]).equals(pq.read_table(other["claims"]))
    assert not pq.read_table(first["patients"]).equals(pq.read_table(other["patients"]))


def test_files_have_the_exact_contract_schemas(population):
    claims = pq.read_schema(population["result"]["claims"])
    assert [(f.name, f.type) for f in claims] == [
        ("claim_id", pa.string()),
        ("patient_id", pa.string()),
        ("fill_date", pa.date32()),
        ("days_supply", pa.int32()),
        ("end_date", pa.date32()),
        ("ndc", pa.string()),
        ("rxcui", pa.string()),
        ("drug_name", pa.string()),
        ("quantity", pa.float64()),
        ("prescriber_id", pa.string()),
        ("pharmacy_id", pa.string()),
        ("claim_status", pa.string()),
        ("fill_number", pa.int32()),
        ("rx_reference", pa.string()),
    ]
    patients = pq.read_schema(population["result"]["patients"])
    assert [(f.name, f.type) for f in patients] == [
        ("patient_id", pa.string()),
        ("birth_year", pa.int32()),
        ("sex", pa.string()),
        ("coverage_start", pa.date32()),
        ("coverage_end", pa.date32()),
    ]
    truth = pq.read_schema(population["result"]["truth"])
    assert [(f.name, f.type) for f in truth][:7] == [
        ("patient_id", pa.string()),
        ("ingredient_a", pa.string()),
        ("ingredient_b", pa.string()),
        ("severity", pa.string()),
        ("kind", pa.string()),
        ("cross_prescriber", pa.bool_()),
        ("expect_flag", pa.bool_()),
    ]


def test_background_looks_like_a_claims_feed(population):
    claims, patients = population["claims"], population["patients"]
    assert patients.height == 20_000 and patients["patient_id"].is_unique().all()
    assert patients["patient_id"][0] == "P0000001"
    assert set(patients["sex"].unique()) == {"F", "M", "U"}
    per_patient = claims.height / patients.height
    assert 10 <= per_patient <= 15
    assert claims["claim_id"].drop_nulls().str.contains(r"^C\d+$").all()
    ok_ndc = claims["ndc"].drop_nulls().filter(claims["ndc"].drop_nulls() != "12345")
    assert ok_ndc.str.contains(r"^\d{11}$").all()
    assert claims["prescriber_id"].drop_nulls().str.contains(r"^PR\d{6}$").all()
    assert claims["pharmacy_id"].drop_nulls().str.contains(r"^PH\d{5}$").all()
    assert 0.02 <= claims["prescriber_id"].null_count() / claims.height <= 0.04
    assert claims["end_date"].drop_nulls().len() < 0.001 * claims.height  # only malformed rows have one
    names = set(claims["drug_name"].drop_nulls().unique())
    for sent in (
        "SERTRALINE HCL 50 MG TAB",
        "Zoloft 100mg tablet",
        "TraMADOL HCl 50 MG",
        "Escitalopram Oxalate 10 MG",
        "tramadol/acetaminophen 37.5-325",
        "Emsam 6 mg/24hr patch",
    ):
        assert sent in names
    # one NDC per product name
    pairs = claims.drop_nulls(["ndc", "drug_name"]).filter(pl.col("ndc") != "12345")
    assert pairs.group_by("drug_name").agg(pl.col("ndc").n_unique().alias("n"))["n"].max() == 1
    # several prescribers and pharmacies per patient, refills on both 30 and 90 days
    per = (
        claims.drop_nulls("patient_id")
        .group_by("patient_id")
        .agg(
            pl.col("prescriber_id").drop_nulls().n_unique().alias("prescribers"),
            pl.col("pharmacy_id").n_unique().alias("pharmacies"),
        )
    )
    assert per["prescribers"].max() >= 4 and per["pharmacies"].max() >= 3
    assert {30, 90} <= set(claims["days_supply"].drop_nulls().unique())


def test_same_day_duplicates_and_reversals_have_the_stated_shares(population):
    claims = population["claims"]
    paid = claims.filter(pl.col("claim_status") == "paid").drop_nulls(
        ["patient_id", "fill_date", "drug_name"]
    )
    dupes = (
        paid.group_by(["patient_id", "drug_name", "fill_date", "days_supply"]).len().filter(pl.col("len") > 1)
    )
    assert 0.015 <= dupes.height / claims.height <= 0.03
    reversed_share = (claims["claim_status"] == "reversed").sum() / claims.height
    assert 0.007 <= reversed_share <= 0.013


def test_every_reversal_repeats_its_paid_claim_like_an_ncpdp_b2(population):
    claims = population["claims"]
    key = ["patient_id", "pharmacy_id", "fill_date", "rx_reference", "fill_number"]
    reversals = claims.filter(pl.col("claim_status") == "reversed")
    paid = claims.filter(pl.col("claim_status") == "paid").select(
        *key, pl.col("claim_id").alias("paid_claim_id")
    )
    matched = reversals.join(paid, on=key, how="inner")
    assert reversals.height > 100
    assert matched["claim_id"].n_unique() == reversals.height
    assert (matched["claim_id"] != matched["paid_claim_id"]).all()


def malformed_kinds(claims: pl.DataFrame) -> pl.DataFrame:
    """Every row the canonical contract forbids, tagged with why (independent of the generator)."""
    future = END + timedelta(days=400)
    duplicated_ids = claims.filter(pl.col("claim_id").is_duplicated())["claim_id"]
    kinds = {
        "null_claim_id": pl.col("claim_id").is_null(),
        "null_patient_id": pl.col("patient_id").is_null(),
        "null_fill_date": pl.col("fill_date").is_null(),
        "days_supply_zero": pl.col("days_supply") == 0,
        "days_supply_negative": pl.col("days_supply") < 0,
        "days_supply_over_365": pl.col("days_supply") > 365,
        "no_duration": pl.col("days_supply").is_null() & pl.col("end_date").is_null(),
        "end_before_fill": pl.col("days_supply").is_null() & (pl.col("end_date") < pl.col("fill_date")),
        "no_drug_identifier": pl.col("ndc").is_null()
        & pl.col("rxcui").is_null()
        & pl.col("drug_name").is_null(),
        "quantity_not_positive": pl.col("quantity") <= 0,
        "unknown_status": ~pl.col("claim_status").is_in(["paid", "reversed"]),
        "future_fill_date": pl.col("fill_date") > future,
        "bad_ndc": pl.col("ndc").is_not_null() & ~pl.col("ndc").str.contains(r"^\d{11}$"),
        # the later of two rows sharing an id
        "duplicate_claim_id": pl.col("claim_id").is_in(duplicated_ids.implode())
        & pl.col("claim_id").is_duplicated()
        & (pl.int_range(pl.len()).over("claim_id") > 0),
    }
    return (
        claims.with_row_index("row")
        .select("row", "patient_id", *[pl.when(cond).then(pl.lit(k)).alias(k) for k, cond in kinds.items()])
        .unpivot(index=["row", "patient_id"], variable_name="kind_col", value_name="kind")
        .drop_nulls("kind")
    )


def test_malformed_rows_cover_every_forbidden_kind_at_about_a_thousandth(population):
    claims, truth = population["claims"], population["truth"]
    bad = malformed_kinds(claims)
    assert set(bad["kind"].unique()) == {
        "null_claim_id",
        "null_patient_id",
        "null_fill_date",
        "days_supply_zero",
        "days_supply_negative",
        "days_supply_over_365",
        "no_duration",
        "end_before_fill",
        "no_drug_identifier",
        "quantity_not_positive",
        "unknown_status",
        "future_fill_date",
        "bad_ndc",
        "duplicate_claim_id",
    }
    share = bad["row"].n_unique() / claims.height
    assert 0.0007 <= share <= 0.0015
    assert bad["row"].n_unique() == population["result"]["n_malformed"]
    planted = set(truth["patient_id"])
    assert not planted & set(bad["patient_id"].drop_nulls())
    reused = claims.filter(pl.col("claim_id").is_duplicated())
    assert not planted & set(reused["patient_id"].drop_nulls())
    # the reused id carries different content
    assert reused.group_by("claim_id").agg(pl.col("drug_name").n_unique().alias("n"))["n"].min() == 2


def test_truth_has_every_template_with_alphabetical_pairs(population):
    truth = population["truth"]
    assert (truth["ingredient_a"] < truth["ingredient_b"]).all()
    rows = set(truth.select("ingredient_a", "ingredient_b", "severity", "kind", "expect_flag").iter_rows())
    assert rows == EXPECTED_TEMPLATES
    assert truth["patient_id"].is_unique().all()
    assert 0.008 <= truth.height / 20_000 <= 0.012
    # each severity is planted with a cross-, same- and unknown-prescriber case
    positives = truth.filter(pl.col("expect_flag"))
    for severity in ("contraindicated", "major", "moderate", "minor"):
        variants = set(positives.filter(pl.col("severity") == severity)["cross_prescriber"].to_list())
        assert variants == {True, False, None}, severity
    assert truth.filter(~pl.col("expect_flag")).height >= 6


def test_tiny_population_still_plants_every_template(tmp_path: Path):
    result = generate(tmp_path, patients=200, seed=1)
    truth = pl.read_parquet(result["truth"])
    assert set(
        truth.select("ingredient_a", "ingredient_b", "severity", "kind", "expect_flag").iter_rows()
    ) == (EXPECTED_TEMPLATES)
    assert pl.read_parquet(result["patients"]).height == 200


def covered_days(fills: pl.DataFrame) -> set[date]:
    days: set[date] = set()
    for fill_date, supply in fills.select("fill_date", "days_supply").iter_rows():
        days.update(fill_date + timedelta(days=k) for k in range(supply))
    return days


def test_planted_fills_produce_the_stated_overlap_or_washout_gap(population):
    assert_planted_cases_hold(population["claims"], population["truth"])


def test_small_chunks_keep_ids_consistent_and_plant_the_same_cases(tmp_path: Path, population):
    result = generate(
        tmp_path, patients=20_000, seed=42, chunk_patients=3_000, workload=population["workload"]
    )
    claims, patients = pl.read_parquet(result["claims"]), pl.read_parquet(result["patients"])
    truth = pl.read_parquet(result["truth"])
    assert patients["patient_id"].is_unique().all() and patients.height == 20_000
    assert set(claims["patient_id"].drop_nulls()) <= set(patients["patient_id"])
    assert claims["claim_id"].drop_nulls().n_unique() == claims.height - malformed_count(
        claims, "null_claim_id"
    ) - (malformed_count(claims, "duplicate_claim_id"))
    # planted cases draw from their own generator, so the chunk size does not change them
    assert truth.equals(population["truth"])
    assert_planted_cases_hold(claims, truth)


def malformed_count(claims: pl.DataFrame, kind: str) -> int:
    return malformed_kinds(claims).filter(pl.col("kind") == kind)["row"].n_unique()


def assert_planted_cases_hold(claims: pl.DataFrame, truth: pl.DataFrame) -> None:
    planted = claims.filter(pl.col("patient_id").is_in(truth["patient_id"].implode()))
    key = ["patient_id", "pharmacy_id", "fill_date", "rx_reference", "fill_number"]
    reversed_keys = planted.filter(pl.col("claim_status") == "reversed").select(key)
    live = planted.filter(pl.col("claim_status") == "paid").join(reversed_keys, on=key, how="anti")
    live = live.with_columns(
        pl.col("drug_name").map_elements(ingredient_of, return_dtype=pl.String).alias("ing")
    )
    for case in truth.iter_rows(named=True):
        fills = live.filter(pl.col("patient_id") == case["patient_id"])
        a, b = case["ingredient_a"], case["ingredient_b"]
        # only the planted pair is serotonergic; everything else is noise such as metformin
        assert set(fills["ing"]) - {a, b} <= {"not serotonergic"}, case
        side_a, side_b = fills.filter(pl.col("ing") == a), fills.filter(pl.col("ing") == b)
        days_a, days_b = covered_days(side_a), covered_days(side_b)
        both = len(days_a & days_b)
        if case["template"].startswith("nearmiss_reversed"):
            assert side_a.height == 0 or side_b.height == 0  # tramadol has no fill left
            assert (
                planted.filter(
                    (pl.col("patient_id") == case["patient_id"]) & (pl.col("claim_status") == "reversed")
                ).height
                == 1
            )
        elif case["kind"] == "overlap":
            assert both == case["overlap_days"] and both >= 7, case
        else:
            assert both == 0, case
            first_ing = "fluoxetine" if "fluoxetine" in (a, b) else "phenelzine"
            second_ing = b if first_ing == a else a
            first_days = days_a if first_ing == a else days_b
            second_start = (side_a if second_ing == a else side_b)["fill_date"].min()
            gap = (second_start - max(first_days)).days
            assert gap == case["washout_gap_days"], case
            assert (1 <= gap <= WASHOUT_DAYS[(first_ing, second_ing)]) == case["expect_flag"], case
        # cross_prescriber: no prescriber in common, both sides known; unknown is neither
        if case["template"].startswith("nearmiss_reversed"):
            continue
        pr_a, pr_b = side_a["prescriber_id"], side_b["prescriber_id"]
        if pr_a.null_count() == pr_a.len() or pr_b.null_count() == pr_b.len():
            assert case["cross_prescriber"] is None, case
        else:
            assert case["cross_prescriber"] == set(pr_a).isdisjoint(set(pr_b)), case
        # clean 30-day fills (acute linezolid and ondansetron are one 14- or 10-day fill)
        assert set(side_a["days_supply"]) | set(side_b["days_supply"]) <= {30, 14, 10}


def serotonergic_share(claims: pl.DataFrame) -> float:
    """Share of paid fills whose drug name maps (through serosurv's name mapping) to an ingredient some
    serotonergic rule names."""
    ruleset = load_rules()
    pairs = ruleset.pair_table()
    ruled = set(pairs["ingredient_a"]) | set(pairs["ingredient_b"])
    names = claims.filter(pl.col("claim_status") == "paid")["drug_name"].drop_nulls()
    sero = {n for n in names.unique() if {i for i, _ in map_drug_name(n, ruleset)} & ruled}
    return names.is_in(sorted(sero)).mean()


def test_the_workload_sets_the_share_of_serotonergic_fills(population):
    share = serotonergic_share(population["claims"])
    if population["workload"] == "serotonergic":
        assert 0.45 <= share <= 0.55
    else:
        assert 0.12 <= share <= 0.22


def test_the_serotonergic_workload_plants_the_same_patients_with_the_same_fills(tmp_path: Path):
    general = generate(tmp_path / "general", patients=2_000, seed=5)
    heavy = generate(tmp_path / "serotonergic", patients=2_000, seed=5, workload="serotonergic")
    assert general["truth"].read_bytes() == heavy["truth"].read_bytes()
    truth = pl.read_parquet(general["truth"])

    def planted(result) -> pl.DataFrame:
        # claim ids and Rx numbers are numbered across the whole file, so they shift with the background
        claims = pl.read_parquet(result["claims"]).drop("claim_id", "rx_reference")
        return claims.filter(pl.col("patient_id").is_in(truth["patient_id"].implode())).sort(pl.all())

    assert planted(general).equals(planted(heavy))
    assert heavy["n_claims"] != general["n_claims"]


def test_an_unknown_workload_is_refused_in_one_sentence(tmp_path: Path):
    with pytest.raises(SerosurvError, match="Unknown workload 'oncology': give one of general, serotonergic"):
        generate(tmp_path, patients=100, workload="oncology")


def test_too_short_a_period_is_refused_in_one_sentence(tmp_path: Path):
    with pytest.raises(SerosurvError, match="too short"):
        generate(tmp_path, patients=100, start=date(2025, 1, 1), end=date(2025, 3, 1))
