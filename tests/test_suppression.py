"""Small-cell suppression rule by rule, on tables checked by hand: primary cells (1-10) and complements
told apart, complements as small as possible and inner cells before totals, and no published table that
gives a suppressed cell back by subtraction or elimination (rows, columns, the total, the pair hierarchy)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.test_prevalence import recoverable
from transforms.suppression import (
    COMPLEMENTARY,
    PRIMARY,
    hierarchy_supports,
    suppress_cells,
    suppress_cube,
    suppression_kind,
)

AGES, SEXES = ["all", "a1", "a2", "a3"], ["all", "F", "M"]


def cube_from_cells(cells: dict[tuple[int, int], int]) -> np.ndarray:
    """One row, ages all/a1/a2/a3 x sexes all/F/M, with both margins and the total filled in by sums."""
    values = np.zeros((1, 4, 3), dtype=np.int64)
    for (a, s), n in cells.items():
        values[0, a, s] = n
    values[0, 0, 1:] = values[0, 1:, 1:].sum(axis=0)
    values[0, :, 0] = values[0, :, 1:].sum(axis=1)
    return values


def test_one_small_cell_is_protected_by_the_smallest_rectangle_of_strata_never_a_total():
    # F/M by age: a1 3/20, a2 15/40, a3 12/50. Hiding 3 needs three more cells of one rectangle:
    # {a1, a2} x {F, M} costs 20 + 15 + 40 = 75 people, {a1, a3} x {F, M} 20 + 12 + 50 = 82, and any
    # rectangle through a margin hides a total. By hand: the first.
    values = cube_from_cells({(1, 1): 3, (1, 2): 20, (2, 1): 15, (2, 2): 40, (3, 1): 12, (3, 2): 50})
    hidden = suppress_cube(values, hierarchy_supports(1, None, {}))
    assert {(AGES[a], SEXES[s]) for _, a, s in zip(*np.nonzero(hidden), strict=True)} == {
        ("a1", "F"),
        ("a1", "M"),
        ("a2", "F"),
        ("a2", "M"),
    }
    assert not hidden[0, 0, :].any() and not hidden[0, :, 0].any()  # no margin, no total
    kinds = {
        (a, s): suppression_kind(int(values[0, a, s]), bool(hidden[0, a, s]))
        for a in range(4)
        for s in range(3)
    }
    assert kinds[(1, 1)] == PRIMARY  # 3: shown "<11"
    assert kinds[(1, 2)] == kinds[(2, 1)] == kinds[(2, 2)] == COMPLEMENTARY  # 20, 15, 40: "suppressed"
    assert kinds[(0, 0)] is None
    relations, flat = _relations_of_one_row(values)
    assert recoverable(flat, relations, _flat_hidden(hidden)) & _flat_hidden(hidden) == set()


def test_a_zero_is_a_complement_only_when_no_count_of_its_level_will_do():
    # F/M by age: a1 4/30, a2 0/25, a3 20/40. {a1, a2} x {F, M} would hide the zero of a2 F (which gives
    # away that a1 F is at most its published partner's difference); {a1, a3} x {F, M} hides 30, 20, 40.
    values = cube_from_cells({(1, 1): 4, (1, 2): 30, (2, 1): 0, (2, 2): 25, (3, 1): 20, (3, 2): 40})
    hidden = suppress_cube(values, hierarchy_supports(1, None, {}))
    assert _flat_hidden(hidden) == {(0, 1, 1), (0, 1, 2), (0, 3, 1), (0, 3, 2)}
    relations, flat = _relations_of_one_row(values)
    assert recoverable(flat, relations, _flat_hidden(hidden)) & _flat_hidden(hidden) == set()


def test_dashboard_total_stays_published_and_the_smallest_severity_is_the_complement():
    values = {"contraindicated": 0, "major": 15, "moderate": 4, "minor": 30, "any": 49}
    relation = [("any", ["contraindicated", "major", "moderate", "minor"])]
    hidden = suppress_cells(values, relation)
    assert hidden == {"moderate", "major"}  # 4 (primary) and the smallest non-zero severity, not "any"
    assert recoverable(values, relation, hidden) & hidden == set()


def _flat_hidden(hidden: np.ndarray) -> set[tuple[int, int, int]]:
    return {tuple(int(i) for i in cell) for cell in zip(*np.nonzero(hidden), strict=True)}


def _relations_of_one_row(values: np.ndarray) -> tuple[list, dict]:
    flat = {(0, a, s): int(values[0, a, s]) for a in range(values.shape[1]) for s in range(values.shape[2])}
    relations = [((0, a, 0), [(0, a, s) for s in range(1, values.shape[2])]) for a in range(values.shape[1])]
    relations += [((0, 0, s), [(0, a, s) for a in range(1, values.shape[1])]) for s in range(values.shape[2])]
    return relations, flat


def hierarchy_table(rng: np.random.Generator, classes: list[int], ages: int, sexes: int):
    """A random prevalence-like table: pair rows grouped into class rows, an 'any' row (index 0) summing
    every pair, ages and sexes with their margins at index 0; and all its additive relations."""
    rows, groups, position = ["any"], {}, 1
    for c, size in enumerate(classes):
        class_row = position
        rows.append(f"class{c}")
        position += 1
        groups[class_row] = list(range(position, position + size))
        rows += [f"pair{c}.{k}" for k in range(size)]
        position += size
    n = len(rows)
    values = np.zeros((n, ages, sexes), dtype=np.int64)
    # small counts often, large sometimes, zeros too
    inner = rng.choice([0, 1, 3, 6, 9, 12, 25, 60, 140], size=(n, ages - 1, sexes - 1))
    for parts in groups.values():
        values[parts, 1:, 1:] = inner[parts]
    for total, parts in groups.items():
        values[total, 1:, 1:] = values[parts, 1:, 1:].sum(axis=0)
    values[0, 1:, 1:] = sum(values[parts, 1:, 1:].sum(axis=0) for parts in groups.values())
    values[:, 0, 1:] = values[:, 1:, 1:].sum(axis=1)
    values[:, :, 0] = values[:, :, 1:].sum(axis=2)
    relations = []
    for r in range(n):
        relations += [((r, a, 0), [(r, a, s) for s in range(1, sexes)]) for a in range(ages)]
        relations += [((r, 0, s), [(r, a, s) for a in range(1, ages)]) for s in range(sexes)]
    every_pair = [p for parts in groups.values() for p in parts]
    for a, s in itertools.product(range(ages), range(sexes)):
        relations.append(((0, a, s), [(p, a, s) for p in every_pair]))
        relations += [((total, a, s), [(p, a, s) for p in parts]) for total, parts in groups.items()]
    return values, groups, relations


@pytest.mark.parametrize("seed", range(6))
def test_no_suppressed_cell_of_a_stratified_pair_table_can_be_recovered(seed):
    """Rows (pairs within classes within 'any'), columns (age bands, sexes) and the total: exact rational
    elimination over every relation together finds no suppressed cell."""
    rng = np.random.default_rng(seed)
    values, groups, relations = hierarchy_table(rng, classes=[2, 1, 3][: 2 + seed % 2], ages=3, sexes=3)
    hidden = suppress_cube(values, hierarchy_supports(values.shape[0], 0, groups))
    small = (values > 0) & (values < 11)
    assert (hidden >= small).all() and small.any()
    flat = {tuple(int(i) for i in k): int(values[k]) for k in itertools.product(*map(range, values.shape))}
    assert recoverable(flat, relations, _flat_hidden(hidden)) & _flat_hidden(hidden) == set()
    # totals are hidden only when no inner cell would do: the grand total stays published here
    assert not hidden[0, 0, 0]
