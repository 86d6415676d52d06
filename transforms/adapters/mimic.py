"""MIMIC-IV `hosp/prescriptions` (+ `hosp/patients`) -> canonical claims (and patients).

One prescriptions row is one pharmacy order component; it becomes one claim:

| canonical | from MIMIC-IV | why |
|---|---|---|
| claim_id | `pharmacy_id`, or `pharmacy_id:drug_type:row` for BASE rows | pharmacy_id is unique per MAIN/ADDITIVE component; a diluent shares its order's pharmacy_id |
| patient_id | `subject_id` | |
| fill_date | date of `starttime` | the order start; EHR orders have no dispensing date |
| end_date | date of `stoptime`; the start date when `stoptime` is missing or before the start | MIMIC-IV docs: starttime/stoptime are the times the prescription was active; a day with any active time counts (inclusive end) |
| drug_name | `drug`, with `[route]` appended when a route is given | the canonical contract has no route column; the name mapper reads routes (TD = transdermal, IV) from the name, which matters for selegiline and methylene blue |
| ndc | `ndc`, with "0" or empty as null | MIMIC writes 0 for "no NDC" |
| prescriber_id | `order_provider_id` (empty = unknown) | |
| rx_reference | `poe_id` | links the components of one order |
| pharmacy_id | null | MIMIC's `pharmacy_id` is an order id in its pharmacy table, not a dispensing pharmacy |

`drug_type` BASE rows are the diluent of an infusion (sodium chloride, dextrose, "Bag"): they are kept
and pre-rejected with reason code `not_a_drug_order`, so rows still reconcile. ADDITIVE rows (e.g.
ondansetron or thiamine added to a bag) are active drugs given to the patient and are kept as orders.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from transforms.adapters import Adapted
from transforms.adapters._source import Source, iso_date, output_name, write_claims, write_patients

PRESCRIPTIONS = ("subject_id", "starttime", "drug")
NOT_A_DRUG_ORDER = "not_a_drug_order"


def adapt_mimic(con: duckdb.DuckDBPyConnection, claims: list[Path], patients: Path | None,
                workdir: Path) -> Adapted:  # fmt: skip
    outputs = [_prescriptions(con, path, workdir) for path in claims]
    return Adapted(outputs, _patients(con, patients, workdir) if patients is not None else None)


def _prescriptions(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path) -> Path:
    s = Source(con, path, workdir, "MIMIC-IV prescriptions")
    s.require(*PRESCRIPTIONS)
    start = iso_date(s.col("starttime"))
    stop = iso_date(s.col("stoptime"))
    drug_type = f"upper({s.col('drug_type')})"
    drug, route = s.col("drug"), s.col("route")
    is_base = f"coalesce({drug_type} = 'BASE', false)"
    is_main = f"coalesce({drug_type} = 'MAIN', true)"
    pharmacy_id = s.col("pharmacy_id")
    fields = {
        "claim_id": f"CASE WHEN NOT {is_main} OR {pharmacy_id} IS NULL "
        f"THEN concat_ws(':', coalesce({pharmacy_id}, 'row'), {drug_type}, s.__row) ELSE {pharmacy_id} END",
        "patient_id": s.col("subject_id"),
        "fill_date": start,
        # The last active day: the stop date, or the start date when the stop is missing or earlier.
        "end_date": f"CASE WHEN try_cast({start} AS DATE) IS NULL THEN {stop} "
        f"WHEN try_cast({stop} AS DATE) >= try_cast({start} AS DATE) THEN {stop} ELSE {start} END",
        "drug_name": f"CASE WHEN {route} IS NULL THEN {drug} ELSE {drug} || ' [' || {route} || ']' END",
        "ndc": f"nullif(regexp_replace({s.col('ndc')}, '^0+$', ''), '')",
        "prescriber_id": s.col("order_provider_id"),
        "rx_reference": s.col("poe_id"),
    }
    reason = (
        f"'drug_type BASE: ' || coalesce({drug}, 'unnamed') || ' is the diluent of an infusion "
        "order, not a drug order'"
    )
    return write_claims(
        con, s, fields, output_name(workdir, "mimic-iv", path),
        reject_code=f"CASE WHEN {is_base} THEN '{NOT_A_DRUG_ORDER}' END",
        reject_reason=f"CASE WHEN {is_base} THEN {reason} END",
    )  # fmt: skip


def _patients(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path) -> Path:
    """MIMIC-IV patients: anchor_year - anchor_age is the (shifted) birth year; no coverage periods."""
    s = Source(con, path, workdir, "MIMIC-IV patients")
    s.require("subject_id")
    birth_year = f"try_cast({s.col('anchor_year')} AS INTEGER) - try_cast({s.col('anchor_age')} AS INTEGER)"
    sql = (
        f"SELECT {s.col('subject_id')} AS patient_id, min({birth_year}) AS birth_year, "
        f"min({s.col('gender')}) AS sex, NULL AS coverage_start, NULL AS coverage_end "
        f"FROM {s.view} GROUP BY 1"
    )
    return write_patients(con, sql, output_name(workdir, "mimic-iv", path))
