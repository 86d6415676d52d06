"""Prevalence on a hand-built population: numerators and denominators counted by hand, an independent
Wilson interval, and small-cell suppression that no subtraction or linear algebra can undo."""

from __future__ import annotations

import math
from datetime import date
from fractions import Fraction

import polars as pl
import pytest

from serosurv.core.errors import SerosurvError
from serosurv.core.rules import load_rules
from transforms.prevalence import PrevalenceSpec, prevalence_table, wilson_interval
from transforms.suppression import suppress_cells

COVERED = (date(2025, 1, 1), date(2025, 12, 31))


def episode(con, patient, ingredient, start, end):
    con.execute(
        "INSERT INTO episodes BY NAME SELECT $p || $i || $s AS episode_id, $p AS patient_id, $i AS ingredient, "
        "$s::DATE AS episode_start, $e::DATE AS episode_end, 1 AS n_fills",
        {"p": patient, "i": ingredient, "s": start, "e": end},
    )


def overlap(con, patient, a, b, first, last):
    con.execute(
        "INSERT INTO interactions BY NAME SELECT $p || $a || $b AS interaction_id, $p AS patient_id, "
        "$a AS ingredient_a, $b AS ingredient_b, 'overlap' AS kind, 'major' AS severity, 3 AS severity_rank, "
        "$f::DATE AS first_overlap_date, $l::DATE AS last_overlap_date",
        {"p": patient, "a": a, "b": b, "f": first, "l": last},
    )


@pytest.fixture
def population(warehouse):
    """P1 sertraline+tramadol overlap in February; P2 sertraline only; P3 tramadol only in January;
    P4 fluoxetine+tramadol overlap 1-5 March; P5 a member with no drug, covered from March."""
    con = warehouse
    con.execute(
        "INSERT INTO runs BY NAME SELECT 'r1' AS run_id, DATE '2025-03-31' AS as_of, 'success' AS status, "
        "now()::TIMESTAMP AS finished_at, 'cfg' AS config_hash, 'rules' AS rules_hash, "
        """'{"episodes": {"grace_days": 7}, "interactions": {"merge_gap_days": 30}}' AS parameters"""
    )
    for patient, sex, birth, start in [
        ("P1", "F", 1960, "2025-01-01"),
        ("P2", "F", 1990, "2025-01-01"),
        ("P3", "M", 1990, "2025-01-01"),
        ("P4", "M", 1950, "2025-01-01"),
        ("P5", "F", 1980, "2025-03-01"),
    ]:
        con.execute(
            "INSERT INTO patients VALUES ($p, $b, $s, $start::DATE, DATE '2025-12-31', 'r1')",
            {"p": patient, "b": birth, "s": sex, "start": start},
        )
    episode(con, "P1", "sertraline", "2025-01-10", "2025-03-10")
    episode(con, "P1", "tramadol", "2025-02-01", "2025-02-14")
    overlap(con, "P1", "sertraline", "tramadol", "2025-02-01", "2025-02-14")
    episode(con, "P2", "sertraline", "2025-01-01", "2025-06-30")
    episode(con, "P3", "tramadol", "2025-01-20", "2025-01-25")
    episode(con, "P4", "fluoxetine", "2025-02-20", "2025-03-20")
    episode(con, "P4", "tramadol", "2025-03-01", "2025-03-05")
    overlap(con, "P4", "fluoxetine", "tramadol", "2025-03-01", "2025-03-05")
    return con


def table(con, **spec):
    spec.setdefault("start", date(2025, 1, 1))
    spec.setdefault("end", date(2025, 3, 31))
    frame = prevalence_table(con, PrevalenceSpec(min_cell=1, **spec), load_rules())
    return {
        (r["interval"], r["pair"], r["stratum"]): (r["numerator"], r["denominator"])
        for r in frame.iter_rows(named=True)
    }


def test_period_prevalence_among_users_of_either_drug_counts_people_by_hand(population):
    got = table(population)
    assert got[("2025-01", "sertraline + tramadol", "all")] == (0, 3)  # P1, P2 on sertraline, P3 on tramadol
    assert got[("2025-02", "sertraline + tramadol", "all")] == (1, 2)  # P1 co-exposed; P2
    assert got[("2025-03", "sertraline + tramadol", "all")] == (0, 3)  # P1, P2 sertraline; P4 tramadol
    assert got[("2025-01", "fluoxetine + tramadol", "all")] == (0, 1)  # P3
    assert got[("2025-02", "fluoxetine + tramadol", "all")] == (0, 2)  # P4 fluoxetine, P1 tramadol
    assert got[("2025-03", "fluoxetine + tramadol", "all")] == (1, 1)  # P4
    assert got[("2025-02", "any interacting pair", "all")] == (1, 3)  # P1, P2, P4 on a rule drug
    assert got[("2025-03", "opioid_serotonergic + SSRI", "all")] == (1, 3)


def test_members_denominator_uses_coverage_and_point_prevalence_the_first_day(population):
    got = table(population, denominator="members")
    assert got[("2025-02", "any interacting pair", "all")] == (1, 4)  # P5 not covered yet
    assert got[("2025-03", "any interacting pair", "all")] == (1, 5)
    point = table(population, measure="point")
    assert point[("2025-02", "sertraline + tramadol", "all")] == (1, 2)  # 1 Feb: P1 both, P2 sertraline
    assert point[("2025-03", "fluoxetine + tramadol", "all")] == (1, 1)  # 1 Mar: P4 both


def test_conditional_prevalence_and_strata(population):
    got = table(population, denominator="users_of:tramadol", by=("sex",))
    assert got[("2025-02", "sertraline + tramadol", "all")] == (1, 1)  # among tramadol users: P1
    assert got[("2025-03", "fluoxetine + tramadol", "sex=M")] == (1, 1)
    assert got[("2025-03", "fluoxetine + tramadol", "sex=F")] == (0, 0)


def test_members_without_coverage_is_one_clear_sentence(warehouse):
    warehouse.execute(
        "INSERT INTO runs BY NAME SELECT 'r1' AS run_id, DATE '2025-03-31' AS as_of, 'success' AS status"
    )
    with pytest.raises(SerosurvError, match="members denominator needs the patient table"):
        prevalence_table(warehouse, PrevalenceSpec(denominator="members"), load_rules())


def test_every_row_carries_its_parameters(population):
    frame = prevalence_table(
        population, PrevalenceSpec(start=date(2025, 1, 1), end=date(2025, 1, 31)), load_rules()
    )
    row = frame.row(0, named=True)
    assert (
        row["rules_hash"] == "rules"
        and row["config_hash"] == "cfg"
        and row["denominator_type"] == "users_of_either"
    )
    assert '"grace_days": 7' in row["episode_settings"] and row["person_level"].startswith("person")
    # default suppression: the 1..10 counts of this tiny population are hidden with their estimates
    hidden = frame.filter(pl.col("suppressed"))
    assert hidden.height and hidden.get_column("estimate").null_count() == hidden.height


def wilson_reference(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson (1927) in its closed form: (2k + z^2 -/+ z sqrt(z^2 + 4k(n-k)/n)) / (2(n + z^2))."""
    root = z * math.sqrt(z * z + 4 * k * (n - k) / n)
    return (2 * k + z * z - root) / (2 * (n + z * z)), (2 * k + z * z + root) / (2 * (n + z * z))


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (5, 10), (10, 10), (37, 1200), (999, 1000)])
def test_wilson_interval_matches_the_closed_form(k, n):
    assert wilson_interval(k, n) == pytest.approx(wilson_reference(k, n), abs=1e-12)
    assert wilson_interval(1, 20) == pytest.approx((0.00889, 0.23612), abs=1e-4)  # textbook value


def recoverable(values, relations, hidden):
    """Everything an attacker can pin down from the published cells: repeated subtraction, then exact
    (rational) Gaussian elimination over all relations together."""
    known = {k: Fraction(v) for k, v in values.items() if k not in hidden}
    found, changed = set(), True
    while changed:
        changed = False
        for total, parts in relations:
            unknown = [k for k in (total, *parts) if k not in known]
            if len(unknown) == 1:
                (k,) = unknown
                rest = sum(known[p] for p in parts if p in known)
                known[k] = known[total] - rest if k != total else rest
                found.add(k)
                changed = True
    unknowns = sorted({k for total, parts in relations for k in (total, *parts)} - set(known), key=str)
    col = {k: i for i, k in enumerate(unknowns)}
    matrix = []
    for total, parts in relations:
        row = [Fraction(0)] * len(unknowns)
        if total in col:
            row[col[total]] += 1
        for p in parts:
            if p in col:
                row[col[p]] -= 1
        if any(row):
            matrix.append(row)
    # reduced row echelon form; a row with a single non-zero entry fixes that unknown
    pivot_row = 0
    for c in range(len(unknowns)):
        pivot = next((r for r in range(pivot_row, len(matrix)) if matrix[r][c] != 0), None)
        if pivot is None:
            continue
        matrix[pivot_row], matrix[pivot] = matrix[pivot], matrix[pivot_row]
        matrix[pivot_row] = [x / matrix[pivot_row][c] for x in matrix[pivot_row]]
        for r in range(len(matrix)):
            if r != pivot_row and matrix[r][c] != 0:
                matrix[r] = [a - matrix[r][c] * b for a, b in zip(matrix[r], matrix[pivot_row], strict=True)]
        pivot_row += 1
    for row in matrix:
        nonzero = [i for i, x in enumerate(row) if x != 0]
        if len(nonzero) == 1:
            found.add(unknowns[nonzero[0]])
    return found


def two_way(cells):
    """A table of cells (r, c) with row totals (r, '*'), column totals ('*', c) and the grand total."""
    values = dict(cells)
    rows_, cols = sorted({r for r, _ in cells}), sorted({c for _, c in cells})
    for r in rows_:
        values[(r, "*")] = sum(values[(r, c)] for c in cols)
    for c in [*cols, "*"]:
        values[("*", c)] = sum(values[(r, c)] for r in rows_)
    relations = [((r, "*"), [(r, c) for c in cols]) for r in [*rows_, "*"]]
    relations += [(("*", c), [(r, c) for r in rows_]) for c in [*cols, "*"]]
    return values, relations


@pytest.mark.parametrize(
    "cells",
    [
        {("18-44", "F"): 3, ("18-44", "M"): 40, ("45-64", "F"): 55, ("45-64", "M"): 61},
        {
            ("a", "F"): 7,
            ("a", "M"): 0,
            ("a", "U"): 30,
            ("b", "F"): 12,
            ("b", "M"): 2,
            ("b", "U"): 44,
            ("c", "F"): 90,
            ("c", "M"): 15,
            ("c", "U"): 0,
        },
        {("a", "F"): 0, ("a", "M"): 11, ("b", "F"): 4, ("b", "M"): 0},
    ],
)
def test_no_suppressed_cell_can_be_recovered_from_row_and_column_totals(cells):
    values, relations = two_way(cells)
    hidden = suppress_cells(values, relations)
    assert {k for k, v in values.items() if 0 < v < 11} <= hidden
    assert recoverable(values, relations, hidden) & hidden == set()


def test_any_pair_row_cannot_give_away_a_suppressed_pair():
    values = {"any": 45, "sertraline + tramadol": 5, "fluoxetine + tramadol": 40}
    hidden = suppress_cells(values, [("any", ["sertraline + tramadol", "fluoxetine + tramadol"])])
    assert "sertraline + tramadol" in hidden and len(hidden) == 2
    assert (
        recoverable(values, [("any", ["sertraline + tramadol", "fluoxetine + tramadol"])], hidden) & hidden
        == set()
    )


def test_age_bands_are_the_configured_ones(population):
    """Ages in 2025: P1 65, P2 35, P3 35, P4 75, P5 45. The default bands, then [research] age_bands =
    [40, 70] recorded with the night: 0-39, 40-69, 70+."""
    got = table(population, by=("age_band",))
    default_bands = ("0-17", "18-44", "45-64", "65-74", "75+")
    assert {stratum for _, _, stratum in got} == {"all", *(f"age_band={band}" for band in default_bands)}
    assert got[("2025-02", "sertraline + tramadol", "age_band=65-74")] == (1, 1)  # P1
    assert got[("2025-02", "sertraline + tramadol", "age_band=18-44")] == (0, 1)  # P2
    population.execute("""UPDATE runs SET parameters = '{"research": {"age_bands": [40, 70]}}'""")
    got = table(population, by=("age_band",))
    assert {stratum for _, _, stratum in got} == {"all", "age_band=0-39", "age_band=40-69", "age_band=70+"}
    assert got[("2025-02", "sertraline + tramadol", "age_band=40-69")] == (1, 1)  # P1
    assert got[("2025-02", "sertraline + tramadol", "age_band=0-39")] == (0, 1)  # P2
    assert got[("2025-03", "fluoxetine + tramadol", "age_band=70+")] == (1, 1)  # P4
    spec = PrevalenceSpec(by=("age_band",), min_cell=1, age_bands=(50,), start=date(2025, 3, 1))
    given = prevalence_table(population, spec, load_rules())
    assert set(given.get_column("age_band")) == {"all", "0-49", "50+"}  # the spec's own bands win


def test_the_minimum_cell_size_is_the_configured_one(population):
    from reports.prevalence import summary_html

    spec = PrevalenceSpec(start=date(2025, 1, 1), end=date(2025, 3, 31))
    frame = prevalence_table(population, spec, load_rules())
    assert set(frame.get_column("suppression_min_count")) == {11} and frame.get_column("suppressed").all()
    assert "counts of 1–10 are shown as “&lt;11”" in summary_html(frame, spec)
    population.execute("""UPDATE runs SET parameters = '{"research": {"min_cell_count": 2}}'""")
    frame = prevalence_table(population, spec, load_rules())
    assert set(frame.get_column("suppression_min_count")) == {2}
    february = frame.filter((pl.col("interval") == "2025-02") & (pl.col("pair") == "sertraline + tramadol"))
    assert february.select("numerator", "denominator").row(0) == (None, 2)  # 1 of 2: hidden, 2 shown
    html = summary_html(frame, spec)
    assert "counts of 1 are shown as “&lt;2”" in html
    assert "&lt;11" not in html and "1–10" not in html


def test_a_bad_minimum_cell_size_or_age_bands_is_one_clear_sentence():
    with pytest.raises(SerosurvError, match="'research.min_cell_count' must be a whole number of at least 1"):
        PrevalenceSpec(min_cell=0).check()
    with pytest.raises(SerosurvError, match="'research.age_bands' must be strictly increasing"):
        PrevalenceSpec(age_bands=(45, 18)).check()
