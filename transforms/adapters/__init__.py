"""Input adapters: other well-known layouts -> the canonical claims contract (PRODUCT.md §2.1).

`adapt(fmt, claims, patients, workdir)` writes canonical Parquet files into `workdir` and returns their
paths. Each claims file has the canonical columns as text plus the source's own lineage, which
`transforms.ingest.stage_claims` honours: `source_file` (the original file), `source_row` (1-based data
row in it), `raw` (the original row as JSON) and, for rows the adapter already knows do not fit,
`reject_code` / `reject_reason` (the row is quarantined with that reason, so every source row
reconciles). The patients file, when the source has demographics, has patient_id, birth_year, sex,
coverage_start and coverage_end.

A `--patients` file that already has a `patient_id` column is taken as canonical and passed through
(`Adapted.patients` is None); otherwise it is read in the format's own layout.

Identifiers: every adapter reads its ids (patient, prescriber, pharmacy, claim, visit, concept) through
the macro `source_id` (an integer written as a float, '12345.0' or '1.2345E4', is read as '12345') and
its prescriber and pharmacy ids through `known_id` (empty, zero however written and `unknown_ids`, the
setting [source] unknown_ids, are unknown): sql/macros/source_id.sql, known_id.sql. CSV files are read
with the delimiter their header line shows (comma, tab, pipe or semicolon: `_source.sniff_delimiter`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from serosurv.core.errors import SerosurvError
from transforms.sql import create_macros

FORMATS = ("canonical", "omop", "scdm", "pde", "mimic-iv", "fhir", "mapping:FILE")
# The macros the adapters' statements use (sql/macros/).
MACROS = ("iso_date", "sas_date", "derived_claim_id", "source_id", "known_id", "qualified_id")


@dataclass(frozen=True)
class Adapted:
    claims: list[Path]  # canonical claims Parquet files, with lineage columns
    patients: Path | None  # canonical patients Parquet, or None when the adapter produced none
    absent: tuple[str, ...] = ()  # canonical fields the source never carries (see SourceConfig)
    # What the adapter changed, by measure, for the night's attrition (e.g. omop_end_dates_corrected).
    counts: dict[str, int] = field(default_factory=dict)


# (connection, claims files, patients file, workdir, unknown_ids) -> Adapted
Adapter = Callable[[duckdb.DuckDBPyConnection, list[Path], Path | None, Path, tuple[str, ...]], Adapted]


def adapt(
    fmt: str,
    claims: list[Path],
    patients: Path | None,
    workdir: Path,
    unknown_ids: tuple[str, ...] = (),
) -> Adapted:
    """Map source files in layout `fmt` onto canonical Parquet files written under `workdir`.
    `unknown_ids`: prescriber and pharmacy ids meaning unknown besides empty and zero ([source]
    unknown_ids, trimmed and upper-case as SourceConfig keeps them)."""
    adapter: Adapter = _layout(fmt, "adapt")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    patients = Path(patients) if patients is not None else None
    if patients is not None and not patients.is_file():
        raise SerosurvError(f"Patients file {patients} does not exist.")
    con = duckdb.connect()
    try:
        create_macros(con, *MACROS)
        unknown = tuple(unknown_ids)
        if patients is not None and _is_canonical_patients(patients):
            adapted = adapter(con, [Path(p) for p in claims], None, workdir, unknown)
            return replace(adapted, patients=None)
        return adapter(con, [Path(p) for p in claims], patients, workdir, unknown)
    finally:
        con.close()


# Each layout's module, with its `adapt_<name>` and `check_<name>` functions (imported when used).
LAYOUTS = {
    "omop": ("transforms.adapters.omop", "omop"),
    "scdm": ("transforms.adapters.scdm", "scdm"),
    "pde": ("transforms.adapters.pde", "pde"),
    "mimic-iv": ("transforms.adapters.mimic", "mimic"),
    "fhir": ("transforms.adapters.fhir", "fhir"),
}


def _layout(fmt: str, kind: str) -> Callable:
    """The layout's `adapt_…` or `check_…` function (`kind`); for `mapping:FILE`, the ones that FILE
    makes (transforms/adapters/mapping.py)."""
    if fmt.startswith("mapping:"):
        from transforms.adapters import mapping

        made = {"adapt": mapping.mapping_adapter, "check": mapping.mapping_check}[kind]
        return made(Path(fmt.removeprefix("mapping:")))
    if fmt not in LAYOUTS:
        raise SerosurvError(f"Unknown input format '{fmt}'; supported: {', '.join(FORMATS)}.")
    module, name = LAYOUTS[fmt]
    return getattr(importlib.import_module(module), f"{kind}_{name}")


def check_inputs(fmt: str, claims: list[Path | str], patients: Path | str | None) -> None:
    """What can be told of a layout's input files before a night starts, from their names and headers
    alone: the tables each input names are there, CSV or Parquet, readable, and have the columns the
    layout requires (the same sentences as `adapt`). A night then refuses a bad header in a second, not
    after Prefect's start-up; the rows themselves are read by the night."""
    people = Path(patients) if patients is not None else None
    if people is not None and _is_canonical_patients(people):
        people = None
    _layout(fmt, "check")([Path(p) for p in claims], people)


def _is_canonical_patients(path: Path) -> bool:
    """A CSV or Parquet patients file with a patient_id column (other files, e.g. FHIR's, are the format's)."""
    from transforms.adapters._source import Header, is_table_file

    return is_table_file(path) and Header(path, "patients").has("patient_id")


def check_format(fmt: str) -> None:
    """Fail early, with the supported list, on a format name no adapter knows."""
    if fmt != "canonical":
        _layout(fmt, "adapt")
