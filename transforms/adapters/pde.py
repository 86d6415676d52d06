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
from transforms.adapters._source import Source, derived_id, iso_date, output_name, quote, write_claims

DATE_FORMATS = ("%Y%m%d", "%d%b%Y", "%m/%d/%Y")


def adapt_pde(con: duckdb.DuckDBPyConnection, claims: list[Path], patients: Path | None,
              workdir: Path) -> Adapted:  # fmt: skip
    if patients is not None:
        raise SerosurvError(
            f"{patients}: --format pde reads no beneficiary file; give --patients in the canonical layout "
            "(patient_id, birth_year, sex, coverage_start, coverage_end)."
        )
    return Adapted([_pde(con, path, workdir) for path in claims], None)


def _pde(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path) -> Path:
    s = Source(con, path, workdir, "CMS PDE")
    s.require("BENE_ID|DESYNPUF_ID", "SRVC_DT", "PROD_SRVC_ID", "DAYS_SUPLY_NUM")
    bene = s.col("BENE_ID", "DESYNPUF_ID")
    service_date = iso_date(s.col("SRVC_DT"), DATE_FORMATS)
    pharmacy, reference, fill = s.col("SRVC_PRVDR_ID"), s.col("RX_SRVC_RFRNC_NUM"), s.col("FILL_NUM")
    code = f"upper({s.col('ADJSTMT_DLTN_CD')})"
    claim_id = (
        s.col("PDE_ID")
        if s.has("PDE_ID")
        else derived_id("pde-", [bene, service_date, s.col("PROD_SRVC_ID"), pharmacy, reference, fill, code])
    )
    # The previous version of the same event (same key), in paid-date then file order.
    event = f"{bene}, {pharmacy}, {reference}, {service_date}, {fill}"
    order = f"try_cast({iso_date(s.col('PD_DT'), DATE_FORMATS)} AS DATE) NULLS FIRST, s.__row"
    previous = (
        f"CASE WHEN {reference} IS NOT NULL THEN lag({claim_id}) OVER (PARTITION BY {event} ORDER BY {order}) END"
        if s.has("PDE_ID")
        else "NULL"  # derived ids are themselves window results; the engine matches on the event key
    )
    names = [n for n in ("GNN", "BN") if s.has(n)]
    drug_name = (
        "concat_ws(' ', " + ", ".join(f"nullif(trim({quote(s.columns[n.lower()])}), '')" for n in names) + ")"
        if names else "NULL"
    )  # fmt: skip
    fields = {
        "claim_id": claim_id,
        "patient_id": bene,
        "fill_date": service_date,
        "days_supply": s.col("DAYS_SUPLY_NUM"),
        "ndc": s.col("PROD_SRVC_ID"),
        "drug_name": f"nullif({drug_name}, '')",
        "quantity": s.col("QTY_DSPNSD_NUM"),
        "prescriber_id": s.col("PRSCRBR_ID"),
        "pharmacy_id": pharmacy,
        "rx_reference": reference,
        "fill_number": fill,
        # Unknown codes pass through as text and are quarantined as bad_claim_status.
        "claim_status": f"CASE WHEN {code} IS NULL THEN 'paid' WHEN {code} = 'A' THEN 'adjusted' "
        f"WHEN {code} = 'D' THEN 'reversed' ELSE 'adjstmt_dltn_cd ' || {code} END",
        "original_claim_id": f"CASE WHEN {code} IN ('A', 'D') THEN {previous} END",
    }
    return write_claims(con, s, fields, output_name(workdir, "pde", path))
