"""Small-cell suppression, shared by the prevalence tables and the quality dashboard: which counts are
too small to publish ([research] min_cell_count in the configuration, 11 by default) and which further
cells must be hidden so that none of them can be derived from the published ones.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import numpy as np

from serosurv.core.config import ResearchConfig

DEFAULT_MIN_CELL = ResearchConfig.min_cell_count  # the configured default; callers pass the night's setting


def is_small(value: int | None, min_cell: int = DEFAULT_MIN_CELL) -> bool:
    """A count from 1 to min_cell - 1: never published (zero is a result and is published)."""
    return value is not None and 0 < value < min_cell


Relation = tuple[Hashable, list[Hashable]]  # total = sum(parts)


def suppress_cells(
    values: dict[Hashable, int],
    relations: Iterable[Relation],
    min_cell: int = DEFAULT_MIN_CELL,
    also: Iterable[Hashable] = (),
) -> set[Hashable]:
    """The cells to suppress: counts 1..min_cell-1 (and `also`), plus complementary cells chosen so that
    no suppressed cell can be derived from the published cells through the additive `relations`
    (checked by linear algebra: a cell is derivable when its unit vector lies in the row space of the
    relations restricted to the suppressed cells)."""
    relations = [(total, list(parts)) for total, parts in relations if parts]
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
        # the smallest count hides the least; non-zero first, as a suppressed zero is a weak complement
        return min(candidates, key=lambda key: (values.get(key, 0) == 0, values.get(key, 0), str(key)))

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
