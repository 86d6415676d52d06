"""Small-cell suppression, shared by the prevalence tables and the quality dashboard: which counts are
too small to publish ([research] min_cell_count in the configuration, 11 by default) and which further
cells must be hidden so that none of them can be derived from the published ones (docs/prevalence.md,
"Small cells", has a worked example).

Two kinds of hidden cell, shown differently: a *primary* cell is a count from 1 to min_cell - 1 (shown as
"<11"); a *complementary* cell is hidden only so that a primary one cannot be recovered by subtraction
(shown as "suppressed", never as "<11": its value may be anything). Complements are chosen to hide as
little as possible: inner cells (strata, ingredient pairs, severities) before totals, the smallest first,
and within one level a zero only when no count will do (a hidden zero gives away a bound of its partner).

- `suppress_cells(values, relations)`: any small table of additive relations (total = sum of parts),
  checked by linear algebra; the dashboard's tables.
- `suppress_cube(values, rows, ...)`: a table of rows x age bands x sexes with margins (the prevalence
  table of one interval), by the hypercube method: each hidden cell is made a corner of a box of hidden
  cells that carries a null vector of every relation, so no combination of published cells fixes it.
  It needs no linear algebra and takes milliseconds where `suppress_cells` would take minutes.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable

import numpy as np

from serosurv.core.config import ResearchConfig

DEFAULT_MIN_CELL = ResearchConfig.min_cell_count  # the configured default; callers pass the night's setting


def is_small(value: int | None, min_cell: int = DEFAULT_MIN_CELL) -> bool:
    """A count from 1 to min_cell - 1: never published (zero is a result and is published)."""
    return value is not None and 0 < value < min_cell


Relation = tuple[Hashable, list[Hashable]]  # total = sum(parts)
PRIMARY = "primary"  # a count from 1 to min_cell - 1: shown as "<11"
COMPLEMENTARY = "complementary"  # hidden to protect another cell: shown as "suppressed"
SUPPRESSED_WORD = "suppressed"


def suppress_cells(
    values: dict[Hashable, int],
    relations: Iterable[Relation],
    min_cell: int = DEFAULT_MIN_CELL,
    also: Iterable[Hashable] = (),
    levels: dict[Hashable, int] | None = None,
) -> set[Hashable]:
    """The cells to suppress: counts 1..min_cell-1 (and `also`), plus complementary cells chosen so that
    no suppressed cell can be derived from the published cells through the additive `relations`
    (checked by linear algebra: a cell is derivable when its unit vector lies in the row space of the
    relations restricted to the suppressed cells). Complements are taken lowest `levels` first (by
    default a cell that is the total of a relation is level 1, any other 0), non-zero before zero,
    smallest first."""
    relations = [(total, list(parts)) for total, parts in relations if parts]
    if levels is None:
        levels = {total: 1 for total, _ in relations}
    suppressed = {key for key, value in values.items() if 0 < (value or 0) < min_cell}
    suppressed |= {key for key in also if key in values}
    if not suppressed or not relations:
        return suppressed
    touching: dict[Hashable, list[int]] = {}
    for index, (total, parts) in enumerate(relations):
        for key in (total, *parts):
            touching.setdefault(key, []).append(index)

    def members(index: int) -> list[Hashable]:
        total, parts = relations[index]
        return [total, *parts]

    def smallest_open(indices: Iterable[int]) -> Hashable | None:
        candidates = {key for i in indices for key in members(i) if key not in suppressed}
        if not candidates:
            return None
        # non-zero first (a suppressed zero is a weak complement), then parts before totals, then the
        # smallest count, which hides the least
        return min(
            candidates,
            key=lambda key: (values.get(key, 0) == 0, levels.get(key, 0), values.get(key, 0), str(key)),
        )

    while True:
        # Cheap pass first: a relation with exactly one suppressed member gives it away by subtraction.
        changed = True
        while changed:
            changed = False
            for index in range(len(relations)):
                hidden = [key for key in members(index) if key in suppressed]
                if len(hidden) == 1:
                    extra = smallest_open([index])
                    if extra is not None:
                        suppressed.add(extra)
                        changed = True
        derivable = _derivable(suppressed, relations, touching)
        if not derivable:
            return suppressed
        added = False
        for key in sorted(derivable, key=str):
            extra = smallest_open(touching.get(key, []))
            if extra is None:  # every relation of the cell is hidden; widen to those of every hidden cell
                extra = smallest_open(i for hidden in suppressed for i in touching.get(hidden, []))
            if extra is not None:
                suppressed.add(extra)
                added = True
        if not added:
            return suppressed


def _derivable(
    suppressed: set[Hashable], relations: list[Relation], touching: dict[Hashable, list[int]]
) -> set[Hashable]:
    """The suppressed cells whose value the relations fix, component by component."""
    unknowns = sorted((key for key in suppressed if key in touching), key=str)
    parent = {key: key for key in unknowns}

    def root(key: Hashable) -> Hashable:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for total, parts in relations:
        hidden = [key for key in (total, *parts) if key in parent]
        for key in hidden[1:]:
            parent[root(key)] = root(hidden[0])
    components: dict[Hashable, list[Hashable]] = {}
    for key in unknowns:
        components.setdefault(root(key), []).append(key)
    found: set[Hashable] = set()
    for component in components.values():
        found |= _derivable_in(component, relations, touching)
    return found


def _derivable_in(
    unknowns: list[Hashable], relations: list[Relation], touching: dict[Hashable, list[int]]
) -> set[Hashable]:
    column = {key: i for i, key in enumerate(unknowns)}
    used = sorted({i for key in unknowns for i in touching[key]})
    matrix = np.zeros((len(used), len(unknowns)))
    for row, index in enumerate(used):
        total, parts = relations[index]
        if total in column:
            matrix[row, column[total]] += 1.0
        for part in parts:
            if part in column:
                matrix[row, column[part]] -= 1.0
    # Null space of the relations over the unknowns: a cell fixed in every solution is derivable.
    # (eigenvectors of A'A with eigenvalue ~0; eigh is several times faster than an SVD here)
    eigenvalues, vectors = np.linalg.eigh(matrix.T @ matrix)
    null_space = vectors[:, eigenvalues < 1e-8 * max(1.0, float(eigenvalues[-1]))]
    if null_space.shape[1] == 0:
        return set(unknowns)
    return {key for key, i in column.items() if np.all(np.abs(null_space[i]) < 1e-7)}


def suppression_kind(value: int | None, hidden: bool, min_cell: int = DEFAULT_MIN_CELL) -> str | None:
    """How a hidden cell is shown: PRIMARY (its count is 1..min_cell-1: "<11"), COMPLEMENTARY (hidden to
    protect another: "suppressed"), or None when it is published."""
    if not hidden:
        return None
    return PRIMARY if is_small(value, min_cell) else COMPLEMENTARY


# ---------------------------------------------------------------------------- tables with margins

Support = tuple[int, ...]  # the indices of one dimension a null vector of its relations is non-zero on


def line_supports(size: int) -> list[list[Support]]:
    """Per index of a dimension whose index 0 is the total of the others (size > 1), or a single index
    (size 1, no relation): the supports of its two-cell null vectors containing it. Two parts
    (+1, -1) or the total and a part (+1, +1) keep `total = sum(parts)` at zero."""
    if size == 1:
        return [[(0,)]]
    found: list[list[Support]] = [[] for _ in range(size)]
    for i in range(size):
        for j in range(i + 1, size):
            found[i].append((i, j))
            found[j].append((i, j))
    return found


def hierarchy_supports(
    size: int, grand_total: int | None, groups: dict[int, list[int]]
) -> list[list[Support]]:
    """Per row, the supports of small null vectors of the rows' relations: `grand_total` = the sum of every
    row in `groups` values, and each key of `groups` = the sum of its rows (the prevalence table's "any
    interacting pair", class pairs and ingredient pairs). Without a grand total the rows are unrelated
    and each is its own support. Supports: two pairs of one group (+1, -1); the grand total, a group and
    one of its pairs (+1, +1, +1); a pair and its group with a pair and its group of another group
    (+1, +1, -1, -1)."""
    if grand_total is None:
        return [[(r,)] for r in range(size)]
    supports: list[Support] = []
    members = [(group, part) for group, parts in groups.items() for part in parts]
    for group, parts in groups.items():
        for i, part in enumerate(parts):
            supports.append((grand_total, group, part) if group != part else (grand_total, part))
            supports += [(part, other) for other in parts[i + 1 :]]
    for (group_a, part_a), (group_b, part_b) in itertools.combinations(members, 2):
        if group_a != group_b:
            supports.append(tuple(dict.fromkeys((part_a, group_a, part_b, group_b))))
    found: list[list[Support]] = [[] for _ in range(size)]
    for support in supports:
        for index in support:
            found[index].append(support)
    for index in range(size):
        if not found[index]:
            found[index].append((index,))  # a row outside every relation
    return found


def suppress_cube(
    values: np.ndarray,
    rows: list[list[Support]],
    min_cell: int = DEFAULT_MIN_CELL,
    also: np.ndarray | None = None,
    levels: np.ndarray | None = None,
) -> np.ndarray:
    """Which cells of a rows x ages x sexes table to hide (a boolean array of its shape). Index 0 of the
    age and sex dimensions is their total ("all") when they have more than one value; the rows' relations
    are given by `rows` (per row, the supports of the null vectors of the rows' relations: see
    `hierarchy_supports`). Hidden: counts 1..min_cell-1 and `also`; then each of them that is not yet a
    corner of a hidden box gets the cheapest box (rows support x ages support x sexes support) whose
    cells are all hidden afterwards. A box carries a null vector of every relation (the product of the
    dimensions' null vectors), so no hidden corner is fixed by the published cells. Cost of hiding a
    cell: its `levels` first (how many totals the cell is: higher is worse), then zero cells after
    non-zero ones, then its count."""
    values = np.asarray(values, dtype=np.int64)
    n_rows, n_ages, n_sexes = values.shape
    hidden = (values > 0) & (values < min_cell)
    if also is not None:
        hidden |= also
    if not hidden.any():
        return hidden
    if levels is None:
        levels = np.zeros(values.shape, dtype=np.int64)
    # each level of total costs a hundred times the one below (so a box through the grand total loses to
    # any box through lesser totals); within a level a zero costs more than any count (a hidden zero is
    # a weak complement: it gives away a bound of its partner), then a count costs what it hides
    cost = np.power(100.0, levels) * 1e6 + np.where(values == 0, 5e5, 0.0) + values + 1.0
    cost[hidden] = 0.0
    age_supports, sex_supports = line_supports(n_ages), line_supports(n_sexes)
    age_list = sorted({s for per in age_supports for s in per})
    sex_list = sorted({s for per in sex_supports for s in per})
    age_of = [[age_list.index(s) for s in per] for per in age_supports]
    sex_of = [[sex_list.index(s) for s in per] for per in sex_supports]
    age_member = np.zeros((len(age_list), n_ages))
    for k, support in enumerate(age_list):
        age_member[k, list(support)] = 1.0
    sex_member = np.zeros((len(sex_list), n_sexes))
    for k, support in enumerate(sex_list):
        sex_member[k, list(support)] = 1.0
    # box_cost[v, w, r]: the cost of hiding row r's cells of age support v x sex support w; the last
    # row index (n_rows) is a zero-cost pad for row supports shorter than the longest
    box_cost = np.zeros((len(age_list), len(sex_list), n_rows + 1))
    box_cost[:, :, :n_rows] = np.einsum("ras,va,ws->vwr", cost, age_member, sex_member)
    width = max(len(s) for per in rows for s in per)
    row_index = [
        np.array([list(s) + [n_rows] * (width - len(s)) for s in per], dtype=np.int64) for per in rows
    ]
    covered = np.zeros(values.shape, dtype=bool)
    order = sorted(zip(*np.nonzero(hidden), strict=True), key=lambda c: (int(values[c]), c))
    for cell in order:
        r, a, s = (int(i) for i in cell)
        if covered[r, a, s]:
            continue
        part = box_cost[np.ix_(age_of[a], sex_of[s])]  # ages x sexes x (rows + pad)
        totals = part[:, :, row_index[r]].sum(axis=-1)  # ages x sexes x row supports
        v, w, u = np.unravel_index(int(np.argmin(totals)), totals.shape)
        box = itertools.product(rows[r][u], age_list[age_of[a][v]], sex_list[sex_of[s][w]])
        for rr, aa, ss in box:
            covered[rr, aa, ss] = True
            if not hidden[rr, aa, ss]:
                hidden[rr, aa, ss] = True
                box_cost[:, :, rr] -= np.outer(age_member[:, aa], sex_member[:, ss]) * cost[rr, aa, ss]
                cost[rr, aa, ss] = 0.0
    return hidden
