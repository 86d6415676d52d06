"""Sentinel Common Data Model (SCDM v8) Dispensing (+ Enrollment, Demographic) -> canonical claims/patients.

Each file given (as --claims or --patients) is recognised by its columns: Dispensing has `Rx`/`RxDate`,
Enrollment `Enr_Start`/`Enr_End`, Demographic `Birth_Date`. SCDM v8 Dispensing columns: PatID,
ProviderID (prescriber; `.U`, empty, zero or a [source] unknown_ids value = unknown), RxDate (SAS
date: exported as text, a date or the SAS day number since 1960-01-01), Rx, Rx_CodeType (ND = NDC,
RN = RxNorm; earlier SCDM versions had an `NDC` column instead), RxSup (days supply), RxAmt (amount
dispensed). There is no claim id and no
pharmacy: claim_id is derived from the row (see `_source.derived_id`). Rows whose Rx_CodeType is not
ND or RN are pre-rejected with reason code `unsupported_code_type`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import duckdb

from serosurv.core.errors import SerosurvError, header_note
from transforms.adapters import Adapted
from transforms.adapters._source import Header, Source, empty_view, output_name, write_claims, write_patients

# The columns read (sql/staging/stg_scdm_claims.sql, stg_scdm_patients.sql; "A|B": B when the file has
# no A). SAS dates are read by the macro sas_date (sql/macros/sas_date.sql).
DISPENSING_COLUMNS = ("PatID", "RxDate", "Rx|NDC", "Rx_CodeType", "ProviderID", "RxSup", "RxAmt")
DEMOGRAPHIC_COLUMNS = ("PatID", "Birth_Date", "Sex")
ENROLLMENT_COLUMNS = ("PatID", "Enr_Start", "Enr_End", "DrugCov")
T = TypeVar("T", bound=Header)
# What each table must have, by its role.
REQUIRED = {
    "Dispensing": ("PatID", "RxDate", "Rx|NDC", "RxSup"),
    "Demographic": ("PatID", "Birth_Date"),
    "Enrollment": ("PatID", "Enr_Start", "Enr_End"),
}


def check_scdm(claims: list[Path], patients: Path | None) -> None:
    """Each file's role and required columns, from its header (transforms.adapters.check_inputs)."""
    dispensing, enrollment, demographic = _roles([Header(p, "SCDM table") for p in _files(claims, patients)])
    for table in dispensing:
        _required(table, "Dispensing")
    if demographic is not None:
        _required(demographic, "Demographic")
    if enrollment is not None:
        _required(enrollment, "Enrollment")


def adapt_scdm(
    con: duckdb.DuckDBPyConnection,
    claims: list[Path],
    patients: Path | None,
    workdir: Path,
    unknown_ids: tuple[str, ...],
) -> Adapted:
    sources = [Source(con, p, workdir, "SCDM table") for p in _files(claims, patients)]
    dispensing, enrollment, demographic = _roles(sources)
    outputs = [_dispensing(con, s, workdir, unknown_ids) for s in dispensing]
    people = _patients(con, enrollment, demographic, workdir) if enrollment or demographic else None
    return Adapted(outputs, people, absent=("pharmacy_id",))  # the source records no dispensing pharmacy


def _files(claims: list[Path], patients: Path | None) -> list[Path]:
    return [*claims, *([patients] if patients else [])]


def _roles(tables: list[T]) -> tuple[list[T], T | None, T | None]:
    """The Dispensing tables, the Enrollment and the Demographic table among the files, by their columns
    a file that is none of them is refused."""
    dispensing = [s for s in tables if s.has("rxdate")]
    enrollment = next((s for s in tables if s.has("enr_start")), None)
    demographic = next((s for s in tables if s.has("birth_date")), None)
    for s in tables:
        if s not in dispensing and s is not enrollment and s is not demographic:
            raise SerosurvError(
                f"{s.path}: not an SCDM Dispensing (RxDate), Enrollment (Enr_Start) or Demographic "
                f"(Birth_Date) table ({header_note(s.original)})."
            )
    if not dispensing:
        raise SerosurvError("No SCDM Dispensing table (with PatID, RxDate, Rx, RxSup) among the files given.")
    return dispensing, enrollment, demographic


def _required(table: Header, role: str) -> None:
    """The table read as an SCDM `role` table (so named in messages) has that role's required columns."""
    table.what = f"SCDM {role}"
    table.require(*REQUIRED[role])


def _dispensing(
    con: duckdb.DuckDBPyConnection, s: Source, workdir: Path, unknown_ids: tuple[str, ...]
) -> Path:
    _required(s, "Dispensing")
    s.named_view("scdm_dispensing", DISPENSING_COLUMNS)
    return write_claims(
        con,
        s,
        "staging/stg_scdm_claims.sql",
        output_name(workdir, "scdm", s.path),
        {"has_code_type": s.has("Rx_CodeType"), "unknown_ids": list(unknown_ids)},
    )


def _patients(
    con: duckdb.DuckDBPyConnection, enrollment: Source | None, demographic: Source | None, workdir: Path
) -> Path:
    """Demographic gives birth year and sex; Enrollment with drug coverage gives the coverage span."""
    if demographic is not None:
        _required(demographic, "Demographic")
        demographic.named_view("scdm_demographic", DEMOGRAPHIC_COLUMNS)
    else:
        empty_view(con, "scdm_demographic", DEMOGRAPHIC_COLUMNS)
    if enrollment is not None:
        _required(enrollment, "Enrollment")
        enrollment.named_view("scdm_enrollment", ENROLLMENT_COLUMNS)
    else:
        empty_view(con, "scdm_enrollment", ENROLLMENT_COLUMNS)
    named = demographic or enrollment
    assert named is not None
    return write_patients(
        con, "staging/stg_scdm_patients.sql", output_name(workdir, "scdm", named.path, "-patients")
    )
