"""MIMIC-IV `hosp/prescriptions` (+ `hosp/patients`) -> canonical claims (and patients).

One prescriptions row is one pharmacy order component; it becomes one claim:

| canonical | from MIMIC-IV | why |
|---|---|---|
| claim_id | `pharmacy_id`, or `pharmacy_id:drug_type:row` for BASE rows | pharmacy_id is unique per MAIN/ADDITIVE component; a diluent shares its order's pharmacy_id |
| patient_id | `subject_id` | |
| fill_date | date of `starttime` | the order start; EHR orders have no dispensing date |
| end_date | date of `stoptime`; the start date when `stoptime` is before the start | MIMIC-IV docs: starttime/stoptime are the times the prescription was active; a day with any active time counts (inclusive end) |
| ongoing | `true` when `stoptime` is missing | the order was still active when the data were extracted: exposure from its start to the night, at most `[episodes] ongoing_max_days` |
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
from transforms.adapters._source import Header, Source, output_name, write_claims, write_patients

PRESCRIPTIONS = ("subject_id", "starttime", "drug")  # the columns a prescriptions file must have
PATIENTS = ("subject_id",)
# The columns read (sql/staging/stg_mimic_claims.sql, stg_mimic_patients.sql).
PRESCRIPTION_COLUMNS = (
    "subject_id",
    "starttime",
    "stoptime",
    "drug",
    "drug_type",
    "route",
    "ndc",
    "pharmacy_id",
    "order_provider_id",
    "poe_id",
)
PATIENT_COLUMNS = ("subject_id", "anchor_year", "anchor_age", "gender")


def adapt_mimic(
    con: duckdb.DuckDBPyConnection,
    claims: list[Path],
    patients: Path | None,
    workdir: Path,
    unknown_ids: tuple[str, ...],
) -> Adapted:
    outputs = [_prescriptions(con, path, workdir, unknown_ids) for path in claims]
    people = _patients(con, patients, workdir) if patients is not None else None
    return Adapted(outputs, people, absent=("pharmacy_id",))  # MIMIC's pharmacy_id is an order id


def check_mimic(claims: list[Path], patients: Path | None) -> None:
    """The required columns of each file, from its header (transforms.adapters.check_inputs)."""
    for path in claims:
        Header(path, "MIMIC-IV prescriptions").require(*PRESCRIPTIONS)
    if patients is not None:
        Header(patients, "MIMIC-IV patients").require(*PATIENTS)


def _prescriptions(
    con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, unknown_ids: tuple[str, ...]
) -> Path:
    s = Source(con, path, workdir, "MIMIC-IV prescriptions")
    s.require(*PRESCRIPTIONS)
    s.named_view("mimic_prescriptions", PRESCRIPTION_COLUMNS)
    return write_claims(
        con,
        s,
        "staging/stg_mimic_claims.sql",
        output_name(workdir, "mimic-iv", path),
        {"unknown_ids": list(unknown_ids)},
    )


def _patients(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path) -> Path:
    """MIMIC-IV patients: anchor_year - anchor_age is the (shifted) birth year; no coverage periods."""
    s = Source(con, path, workdir, "MIMIC-IV patients")
    s.require(*PATIENTS)
    s.named_view("mimic_patients", PATIENT_COLUMNS)
    return write_patients(con, "staging/stg_mimic_patients.sql", output_name(workdir, "mimic-iv", path))
