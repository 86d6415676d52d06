"""Where the shipped data folders (rules/, sql/) are, in a checkout or in an installed wheel."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # serosurv/


@cache
def data_dir(name: str) -> Path:
    """`rules` or `sql`: the repository folder in a checkout, `serosurv/_data/NAME` in a wheel."""
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"serosurv is installed without its {name}/ folder")
