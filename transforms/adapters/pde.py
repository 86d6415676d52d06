"""CMS Medicare Part D Prescription Drug Event (PDE) files -> canonical claims.

Column names as in the CCW PDE research files (case-insensitive): BENE_ID (or DESYNPUF_ID in the
DE-SynPUF public files), PDE_ID, SRVC_DT, PROD_SRVC_ID (the NDC), QTY_DSPNSD_NUM, DAYS_SUPLY_NUM,
PRSCRBR_ID, SRVC_PRVDR_ID (the pharmacy), RX_SRVC_RFRNC_NUM, FILL_NUM, ADJSTMT_DLTN_CD, and when the
file carries drug names, GNN (generic) and BN (brand).

ADJSTMT_DLTN_CD: empty = original event, A = adjustment (replaces the event), D = deletion (cancels
it). They become claim_status paid / adjusted / reversed. A PDE is identified by service provider,
prescription service reference number, date of service and fill number; the original_claim_id of
an adjustment or deletion is the PDE_ID of the previous version of the same event (by PD_DT when
present, then file order), so a chain original -> A -> A -> D cancels each earlier version. When
no earlier version is in the batch, original_claim_id stays empty and the engine matches the event
on (patient, pharmacy, date, rx_reference, fill_number).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from serosurv.core.errors import SerosurvError
from transforms.adapters import Adapted
from transforms.adapters._source import Source, output_name, write_claims

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
    "SRVC_PRVDR_ID",
    "RX_SRVC_RFRNC_NUM",
    "FILL_NUM",
    "ADJSTMT_DLTN_CD",
    "GNN",
    "BN",
)


def adapt_pde(
    con: duckdb.DuckDBPyConnection, claims: list[Path], patients: Path | None, workdir: Path
) -> Adapted:
    if patients is not None:
        raise SerosurvError(
            f"{patients}: --format pde reads no beneficiary file; give --patients in the canonical layout "
            "(patient_id, birth_year, sex, coverage_start, coverage_end)."
        )
    return Adapted([_pde(con, path, workdir) for path in claims], None)


def _pde(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path) -> Path:
    s = Source(con, path, workdir, "CMS PDE")
    s.require("BENE_ID|DESYNPUF_ID", "SRVC_DT", "PROD_SRVC_ID", "DAYS_SUPLY_NUM")
    s.named_view("pde", COLUMNS)
    return write_claims(
        con,
        s,
        "staging/stg_pde_claims.sql",
        output_name(workdir, "pde", path),
        {"has_pde_id": s.has("PDE_ID")},
    )
