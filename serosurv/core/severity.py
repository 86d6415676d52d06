"""The severity scale, defined once in rules/severity_scale.csv: level, rank (4 = contraindicated ...
1 = minor), the NCPDP clinical significance code it maps to, and what US labelling and the ANSM say at
that level. Every module takes the scale from here."""

from __future__ import annotations

import csv
from functools import cache

from serosurv.core.errors import SerosurvError
from serosurv.core.resources import data_dir

SCALE_FILE = "severity_scale.csv"


@cache
def _scale() -> tuple[dict[str, str], ...]:
    path = data_dir("rules") / SCALE_FILE
    with path.open(encoding="utf-8", newline="") as handle:
        rows = tuple(csv.DictReader(handle))
    ranks = sorted(int(r["rank"]) for r in rows)
    if ranks != list(range(1, len(rows) + 1)):
        raise SerosurvError(f"{path}: the ranks must be 1, 2, ... without gaps; restore the file.")
    return tuple(sorted(rows, key=lambda r: -int(r["rank"])))


def severity_rank() -> dict[str, int]:
    """{level: rank}, most severe first (contraindicated 4 ... minor 1)."""
    return {r["severity"]: int(r["rank"]) for r in _scale()}


def severities() -> list[str]:
    """The levels, most severe first."""
    return [r["severity"] for r in _scale()]


def clinical_significance() -> dict[int, str]:
    """{rank: NCPDP clinical significance code (528-FS)}."""
    return {int(r["rank"]): r["clinical_significance"] for r in _scale()}


SEVERITY_RANK = severity_rank()
SEVERITIES = severities()
