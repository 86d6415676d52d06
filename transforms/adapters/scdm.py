"""Sentinel Common Data Model (SCDM v8) Dispensing (+ Enrollment, Demographic) -> canonical claims/patients.

Each file given (as --claims or --patients) is recognised by its columns: Dispensing has `Rx`/`RxDate`,
Enrollment `Enr_Start`/`Enr_End`, Demographic `Birth_Date`. SCDM v8 Dispensing columns: PatID,
ProviderID (prescriber; `.U` or empty = unknown), RxDate (SAS date: exported as text, a date or the
SAS day number since 1960-01-01), Rx, Rx_CodeType (ND = NDC, RN = RxNorm; earlier SCDM versions had
an `NDC` column instead), RxSup (days supply), RxAmt (amount dispensed). There is no claim id and no
pharmacy: claim_id is derived from the row (see `_source.derived_id`). Rows whose Rx_CodeType is not
ND or RN are pre-rejected with reason code `unsupported_code_type`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from serosurv.core.errors import SerosurvError, header_note
from transforms.adapters import Adapted
from transforms.adapters._source import (
    Source,
    derived_id,
    iso_date,
    output_name,
    write_claims,
    write_patients,
)

UNKNOWN_PROVIDER = ("", ".U", "U", ".")
SAS_DATE_FORMATS = ("%m/%d/%Y", "%d%b%Y", "%Y%m%d")


def sas_date(expr: str) -> str:
    """SAS dates as exported: a day number since 1960-01-01, MM/DD/YYYY, DATE9 (29NOV2005) or ISO."""
    number = f"CASE WHEN regexp_full_match({expr}, '-?[0-9]{{1,6}}') THEN strftime(DATE '1960-01-01' + {expr}::INTEGER, '%Y-%m-%d') END"
    return f"coalesce({number}, {iso_date(expr, SAS_DATE_FORMATS)})"


def adapt_scdm(con: duckdb.DuckDBPyConnection, claims: list[Path], patients: Path | None,
               workdir: Path) -> Adapted:  # fmt: skip
    sources = [Source(con, p, workdir, "SCDM table") for p in [*claims, *([patients] if patients else [])]]
    dispensing = [s for s in sources if s.has("rxdate")]
    enrollment = next((s for s in sources if s.has("enr_start")), None)
    demographic = next((s for s in sources if s.has("birth_date")), None)
    for s in sources:
        if s not in dispensing and s is not enrollment and s is not demographic:
            raise SerosurvError(
                f"{s.path}: not an SCDM Dispensing (RxDate), Enrollment (Enr_Start) or Demographic "
                f"(Birth_Date) table ({header_note(s.original)})."
            )
    if not dispensing:
        raise SerosurvError("No SCDM Dispensing table (with PatID, RxDate, Rx, RxSup) among the files given.")
    outputs = [_dispensing(con, s, workdir) for s in dispensing]
    people = _patients(con, enrollment, demographic, workdir) if enrollment or demographic else None
    return Adapted(outputs, people)


def _dispensing(con: duckdb.DuckDBPyConnection, s: Source, workdir: Path) -> Path:
    s.what = "SCDM Dispensing"
    s.require("PatID", "RxDate", "Rx|NDC", "RxSup")
    code = s.col("Rx", "NDC")
    code_type = f"upper({s.col('Rx_CodeType')})" if s.has("Rx_CodeType") else "'ND'"
    provider = s.col("ProviderID")
    supported = f"coalesce({code_type} IN ('ND', 'RN'), false)"
    fields = {
        "claim_id": derived_id("scdm-", [s.col("PatID"), s.col("RxDate"), code, provider, s.col("RxSup")]),
        "patient_id": s.col("PatID"),
        "fill_date": sas_date(s.col("RxDate")),
        "days_supply": s.col("RxSup"),
        "ndc": f"CASE WHEN {code_type} = 'ND' THEN {code} END",
        "rxcui": f"CASE WHEN {code_type} = 'RN' THEN {code} END",
        "quantity": s.col("RxAmt"),
        "prescriber_id": f"CASE WHEN upper({provider}) IN {UNKNOWN_PROVIDER} THEN NULL ELSE {provider} END",
    }
    return write_claims(
        con, s, fields, output_name(workdir, "scdm", s.path),
        reject_code=f"CASE WHEN NOT {supported} THEN 'unsupported_code_type' END",
        reject_reason=f"CASE WHEN NOT {supported} THEN 'Rx_CodeType ''' || coalesce({code_type}, '') || "
        "''' is not supported (ND = NDC or RN = RxNorm)' END",
    )  # fmt: skip


def _patients(con: duckdb.DuckDBPyConnection, enrollment: Source | None, demographic: Source | None,
              workdir: Path) -> Path:  # fmt: skip
    """Demographic gives birth year and sex; Enrollment with drug coverage gives the coverage span."""
    parts = []
    if demographic is not None:
        demographic.what = "SCDM Demographic"
        demographic.require("PatID", "Birth_Date")
        parts.append(
            f"SELECT {demographic.col('PatID')} AS patient_id, "
            f"year(try_cast({sas_date(demographic.col('Birth_Date'))} AS DATE)) AS birth_year, "
            f"{demographic.col('Sex')} AS sex, NULL::DATE AS coverage_start, NULL::DATE AS coverage_end "
            f"FROM {demographic.view}"
        )
    if enrollment is not None:
        enrollment.what = "SCDM Enrollment"
        enrollment.require("PatID", "Enr_Start", "Enr_End")
        drug_coverage = f"coalesce(upper({enrollment.col('DrugCov')}), 'Y') = 'Y'"
        parts.append(
            f"SELECT {enrollment.col('PatID')} AS patient_id, NULL::INTEGER AS birth_year, NULL AS sex, "
            f"try_cast({sas_date(enrollment.col('Enr_Start'))} AS DATE) AS coverage_start, "
            f"try_cast({sas_date(enrollment.col('Enr_End'))} AS DATE) AS coverage_end "
            f"FROM {enrollment.view} WHERE {drug_coverage}"
        )
    sql = (
        "SELECT patient_id, max(birth_year) AS birth_year, max(sex) AS sex, min(coverage_start) AS coverage_start, "
        f"max(coverage_end) AS coverage_end FROM ({' UNION ALL '.join(parts)}) GROUP BY patient_id"
    )
    named = demographic or enrollment
    assert named is not None
    return write_patients(con, sql, output_name(workdir, "scdm", named.path, "-patients"))
