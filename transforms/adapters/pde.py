"""CMS Medicare Part D Prescription Drug Event (PDE) files -> canonical claims (and patients).

Column names as in the CCW PDE research files and CMS's RIF files (case-insensitive; pipe, comma or tab
delimited, detected from the header whatever the extension): BENE_ID (or DESYNPUF_ID in the DE-SynPUF
public files), PDE_ID, SRVC_DT, PROD_SRVC_ID (the NDC), QTY_DSPNSD_NUM, DAYS_SUPLY_NUM, PRSCRBR_ID with
PRSCRBR_ID_QLFYR_CD, SRVC_PRVDR_ID (the pharmacy) with SRVC_PRVDR_ID_QLFYR_CD, RX_SRVC_RFRNC_NUM,
FILL_NUM, ADJSTMT_DLTN_CD, DML_IND (RIF), and when the file carries drug names, GNN (generic) and BN
(brand). Dates as CMS writes them: YYYYMMDD (CCW, DE-SynPUF), DD-MMM-YYYY (RIF: 01-Mar-2015), also
DDMMMYYYY, MM/DD/YYYY and YYYY-MM-DD.

Prescriber and pharmacy ids: the qualifier says what kind of id it is (CMS codes 01 NPI, 06 UPIN,
07 NCPDP, 08 state licence, 11 TIN, 12 DEA, 99 other). An NPI, or an id in a file without the
qualifier column (DE-SynPUF), is taken as it is; an id of another kind keeps its kind as a prefix
('DEA:AB1234563', 'NCPDP:0512345'), so a DEA number never equals an NPI by accident. The same prescriber
named by NPI on one claim and by DEA number on another therefore counts as two prescribers: CMS has
required the NPI on PDEs since 2013, so this matters for older files only. Empty, zero and [source]
unknown_ids values are unknown whatever the qualifier.

ADJSTMT_DLTN_CD: empty = original event, A = adjustment (replaces the event), D = deletion (cancels
it). They become claim_status paid / adjusted / reversed. A PDE is identified by service provider,
prescription service reference number, date of service and fill number; the original_claim_id of
an adjustment or deletion is the PDE_ID of the previous version of the same event (by PD_DT when
present, then file order), so a chain original -> A -> A -> D cancels each earlier version. When
no earlier version is in the batch, original_claim_id stays empty and the engine matches the event
on (patient, pharmacy, date, rx_reference, fill_number). RIF rows whose DML_IND is UPDATE or DELETE
(instructions to change a record loaded earlier) are pre-rejected as `unsupported_dml`.

`--patients`: a beneficiary summary file (RIF beneficiary, CCW MBSF or DE-SynPUF Beneficiary Summary:
BENE_ID or DESYNPUF_ID, BENE_BIRTH_DT, BENE_SEX_IDENT_CD or SEX_IDENT_CD, and for coverage RFRNC_YR or
BENE_ENROLLMT_REF_YR with the monthly Part D contract ids PTD_CNTRCT_JAN_ID..PTD_CNTRCT_DEC_ID or
PTD_CNTRCT_ID_01..12, PTD_CVRG_STRT_DT / PTD_CVRG_END_DT, PLAN_CVRG_MO_CNT, PLAN_CVRG_MOS_NUM or
PTD_PLAN_CVRG_MONS), mapped by sql/staging/stg_pde_patients.sql; or a canonical patients file.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from transforms.adapters import Adapted
from transforms.adapters._source import Header, Source, output_name, write_claims, write_patients

# The columns each file must have.
PDE_REQUIRED = ("BENE_ID|DESYNPUF_ID", "SRVC_DT", "PROD_SRVC_ID", "DAYS_SUPLY_NUM")
BENEFICIARY_REQUIRED = ("BENE_ID|DESYNPUF_ID", "BENE_BIRTH_DT")

# The columns read (sql/staging/stg_pde_claims.sql; "A|B": B when the file has no A).
COLUMNS = (
    "BENE_ID|DESYNPUF_ID",
    "PDE_ID",
    "SRVC_DT",
    "PD_DT",
    "PROD_SRVC_ID",
    "QTY_DSPNSD_NUM",
    "DAYS_SUPLY_NUM",
    "PRSCRBR_ID",
    "PRSCRBR_ID_QLFYR_CD",
    "SRVC_PRVDR_ID",
    "SRVC_PRVDR_ID_QLFYR_CD",
    "RX_SRVC_RFRNC_NUM",
    "FILL_NUM",
    "ADJSTMT_DLTN_CD",
    "DML_IND",
    "GNN",
    "BN",
)
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEPT", "OCT", "NOV", "DEC")
# The beneficiary summary columns read (sql/staging/stg_pde_patients.sql): RIF, MBSF and DE-SynPUF names.
BENEFICIARY_COLUMNS = (
    "BENE_ID|DESYNPUF_ID",
    "BENE_BIRTH_DT",
    "BENE_SEX_IDENT_CD|SEX_IDENT_CD",
    "RFRNC_YR|BENE_ENROLLMT_REF_YR",
    "PTD_CVRG_STRT_DT",
    "PTD_CVRG_END_DT",
    "PLAN_CVRG_MO_CNT|PLAN_CVRG_MOS_NUM|PTD_PLAN_CVRG_MONS",
    "DML_IND",
    *(f"PTD_CNTRCT_{m}_ID|PTD_CNTRCT_ID_{n:02d}" for n, m in enumerate(MONTHS, start=1)),
)


def adapt_pde(
    con: duckdb.DuckDBPyConnection,
    claims: list[Path],
    patients: Path | None,
    workdir: Path,
    unknown_ids: tuple[str, ...],
) -> Adapted:
    outputs = [_pde(con, path, workdir, unknown_ids) for path in claims]
    people = _beneficiaries(con, patients, workdir) if patients is not None else None
    return Adapted(outputs, people)


def check_pde(claims: list[Path], patients: Path | None) -> None:
    """The required columns of each file, from its header (transforms.adapters.check_inputs)."""
    for path in claims:
        Header(path, "CMS PDE").require(*PDE_REQUIRED)
    if patients is not None:
        Header(patients, "CMS beneficiary summary").require(*BENEFICIARY_REQUIRED)


def _pde(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, unknown_ids: tuple[str, ...]) -> Path:
    s = Source(con, path, workdir, "CMS PDE")
    s.require(*PDE_REQUIRED)
    s.named_view("pde", COLUMNS)
    return write_claims(
        con,
        s,
        "staging/stg_pde_claims.sql",
        output_name(workdir, "pde", path),
        {"has_pde_id": s.has("PDE_ID"), "unknown_ids": list(unknown_ids)},
    )


def _beneficiaries(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path) -> Path:
    s = Source(con, path, workdir, "CMS beneficiary summary")
    s.require(*BENEFICIARY_REQUIRED)
    s.named_view("pde_beneficiary", BENEFICIARY_COLUMNS)
    return write_patients(con, "staging/stg_pde_patients.sql", output_name(workdir, "pde", path))
