"""FHIR R4 and STU3 medication resources -> canonical claims (and patients).

`--claims` names Bulk FHIR NDJSON (an `$export` output folder, or its files: one resource per line,
`.ndjson` / `.jsonl`, optionally `.gz`; several files per type are fine) and/or JSON files each holding a
Bundle (`entry[].resource`) or a single resource (`.json`, optionally `.gz`). In a folder every such file
is read, except that when some NDJSON file names are resource types the adapter reads
(`MedicationDispense.ndjson`, `1.Patient.ndjson`), NDJSON files named after other types
(`Observation.ndjson`) are skipped unread. Resources read: MedicationDispense and MedicationRequest (the
rows), Medication and PractitionerRole (through references), Patient (the patients file); other types
are not rows (the log line of the night counts them). `--patients` may name a FHIR file too (its Patient
resources are used), or a canonical patients table.

Rows and lineage: every MedicationDispense and MedicationRequest of the `--claims` files is one row:
accepted, or quarantined with a reason naming the FHIR field. `source_row` is the line of an NDJSON file
(blank lines are not rows; a line that is not JSON is a row quarantined `bad_json`) or the entry's
position in a Bundle file; `raw` is the resource without its narrative (`text`), at most 20,000 characters
(a longer one is cut and marked `truncated_to`).

| canonical | from FHIR | why |
|---|---|---|
| claim_id | `Type/id` (e.g. `MedicationDispense/123`; else the Bundle entry's fullUrl) | ids are unique per resource type only; the reference form finds the resource on the server |
| patient_id | `subject` (STU3/R4; DSTU2 `patient`): `Patient/123` -> `123`, a Bundle's `urn:uuid:` reference resolved to the Patient's id | the same id as the patients file |
| fill_date | dispense: date of `whenHandedOver`, else `whenPrepared`; request: earliest dosageInstruction `timing.repeat.boundsPeriod.start`, else `authoredOn`, else `dispenseRequest.validityPeriod.start` | the day the patient had the drug; for an order, the day taking starts (the dosage's bounds), else the day it was written. The date as written, no time-zone shift |
| days_supply | dispense: `daysSupply` (d, wk = 7, mo = 30, a = 365 days; no unit = days; a partial day counts); else `quantity` / daily dose of its `dosageInstruction` (or its prescription's); else its prescription's `dispenseRequest.expectedSupplyDuration`. Request: `boundsDuration`; else `expectedSupplyDuration`; else `dispenseRequest.quantity` / daily dose | OHDSI THEMIS order for a missing supply (days supply, then quantity over daily dose); refills (`numberOfRepeatsAllowed`) are not assumed to have been collected |
| end_date | request: the latest dosageInstruction `boundsPeriod.end` (wins over a supply) | the prescriber's stated end of therapy (a medication list's completed entries) |
| ongoing | `true` for an `active` request with no `boundsPeriod.end` and no supply | an order in effect until stopped: exposure from its start to the night, at most `[episodes] ongoing_max_days` (not `missing_supply`) |
| rxcui / ndc | the medication's coding with system `http://www.nlm.nih.gov/research/umls/rxnorm` (or its OID) / `http://hl7.org/fhir/sid/ndc` (or its OID) | `medicationCodeableConcept`, else the `code` of the Medication `medicationReference` names (contained `#id`, or in the input) |
| drug_name | the concept's `text`, else the RxNorm, NDC or any coding's `display`, else `medicationReference.display`, else the Medication's ingredient names joined by ` / ` | the name mapper maps clinical-drug names (`Sertraline 50 MG Oral Tablet`) while RxNorm SCD/SBD codes have no crosswalk yet |
| quantity | dispense `quantity.value`; request `dispenseRequest.quantity.value` | |
| prescriber_id | the `requester` (R4) / `requester.agent` (STU3) of the prescription: a dispense's first `authorizingPrescription` (when that MedicationRequest is in the input), a request's own; a PractitionerRole in the input gives its practitioner; as a reference (`Practitioner/7`), or the identifier's value when the requester has no reference. A requester that is the Patient, a RelatedPerson, an Organization or a Device is no prescriber | |
| pharmacy_id | the dispense's first `performer.actor` that is an Organization; else STU3 `performer.onBehalfOf`; else R4 `location` | the dispensing pharmacy (a Practitioner performer is the pharmacist, not the pharmacy) |
| rx_reference | the dispense's `authorizingPrescription` (`MedicationRequest/…`); a request's own reference | links the fills of one prescription |
| claim_status | `paid`; `reversed` for an `entered-in-error` record, with `original_claim_id` = the record's own claim id | a record voided after an earlier night loaded it cancels that fill; on a first load it cancels nothing |

Which resources are fills:
- MedicationDispense `completed` (a date from whenHandedOver or whenPrepared); `stopped` or `unknown`
  only with a `whenHandedOver` (something was handed over). `preparation`, `in-progress` (STU3: started,
  not completed; R4: ready for pickup), `on-hold`, `cancelled`, `declined`, STU3 `notDone: true`, and
  stopped/unknown without a handover: quarantined `not_dispensed` with the status in the reason (nothing
  reached the patient; the dispense loads on the night its export says completed).
- MedicationRequest is a fill-like order only for a patient with no MedicationDispense in the input
  (an EHR or medication-list export without dispensing). Where the input holds a patient's dispenses,
  the dispenses are what the patient received: a request that a dispense authorises is quarantined
  `request_dispensed` (its prescriber and supply are read through the dispense), one that none does
  `request_not_dispensed` (not filled, or filled where the source does not see). Orders: status
  `active`, `completed`, `stopped` (until stopped), `on-hold`, `unknown`, intent order (any kind) or
  `plan` (US Core medication lists); `draft`, `cancelled`, intent `proposal` / `option` and R4
  `doNotPerform` are quarantined `not_an_order`.
- `entered-in-error` (either resource): a reversal of the record when it has a date and a supply, else
  quarantined `entered_in_error`.
- A status outside the R4/STU3 value sets, or none: `bad_claim_status`.

`request_dispensed`, `request_not_dispensed`, `not_dispensed` and `not_an_order` are the source's
workflow, not a broken extract: they are counted but not held against the quality gate's quarantine rate.

Absent fields are judged from the data: when no accepted row names a prescriber (or a pharmacy), the
source carries none (SMART's sample bundles record neither) and `Adapted.absent` declares it, so the
gate and the report say fragmentation cannot be measured. A prescriber needs the MedicationRequest that
a dispense names: give the request files with the dispenses (a `_since` export holds only the requests
changed since; give a full export, or the earlier exports' MedicationRequest files too).

All work is set-based in DuckDB: NDJSON lines are streamed to Parquet by Polars (file order, so line
numbers are the file's), Bundles read by DuckDB's JSON reader; the mapping is
sql/staging/stg_fhir_claims.sql over sql/staging/stg_fhir_resources.sql.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import duckdb
import polars as pl

from serosurv.core.errors import SerosurvError
from transforms.adapters import Adapted
from transforms.adapters._source import output_name, write_claims, write_patients
from transforms.sql import copy_to, create_macros, create_table, fetch

NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
JSON_SUFFIXES = (".json", ".json.gz")
ROWS = ("MedicationDispense", "MedicationRequest")  # the resource types that are rows
READ = (*ROWS, "Medication", "PractitionerRole", "Patient")  # every type the adapter reads
RAW_CHARS = 20_000  # the most of a resource's JSON kept as `raw` (a quarantined row's copy)
MACROS = ("fhir_reference", "fhir_patient_id", "fhir_date", "fhir_days")

log = logging.getLogger("serosurv")


def adapt_fhir(
    con: duckdb.DuckDBPyConnection,
    claims: list[Path],
    patients: Path | None,
    workdir: Path,
    unknown_ids: tuple[str, ...] = (),
) -> Adapted:
    # FHIR ids and references are JSON strings by the format (never floats), so they are kept as written;
    # an unknown prescriber or pharmacy (empty, zero, `unknown_ids`) is made NULL by validation
    # (sql/staging/stg_checked.sql, macro known_id), as for every format.
    del unknown_ids
    create_macros(con, *MACROS)
    inputs = [(path, "claims") for path in fhir_files(claims)]
    if patients is not None:
        inputs.append((_fhir_file(patients, "--patients"), "patients"))
    rows = [found for path, role in inputs if (found := _rows(con, path, role, workdir)) is not None]
    if not rows:
        raise SerosurvError(f"{claims[0]}: the FHIR files given are empty.")
    create_table(con, "stg_fhir_resources", "staging/stg_fhir_resources.sql", {"files": rows}, temp=True)
    counts = fetch(con, "analyses/fhir_resource_counts.sql")
    _log_counts(counts, len(inputs))
    if not any(role == "claims" and kind in (*ROWS, "(not JSON)") for role, kind, _ in counts):
        found = ", ".join(f"{kind} {n:,}" for role, kind, n in counts if role == "claims") or "nothing"
        raise SerosurvError(
            f"{claims[0]}: no MedicationDispense or MedicationRequest resources in the FHIR input "
            f"(found: {found})."
        )
    create_table(con, "stg_fhir_claims", "staging/stg_fhir_claims.sql", {"raw_chars": RAW_CHARS}, temp=True)
    outputs = [
        write_claims(
            con, Path(source), "staging/stg_fhir_file_claims.sql", output_name(workdir, "fhir", Path(source))
        )
        for (source,) in fetch(con, "analyses/fhir_claim_files.sql")
    ]
    people = None
    if any(kind == "Patient" for _, kind, _ in counts):
        people = write_patients(
            con, "staging/stg_fhir_patients.sql", output_name(workdir, "fhir", inputs[0][0], "-patients")
        )
    ((with_prescriber, with_pharmacy),) = fetch(con, "analyses/fhir_carried_fields.sql")
    # Judged from the data: FHIR can carry both, a given source may carry neither.
    absent = tuple(
        field for field, n in (("prescriber_id", with_prescriber), ("pharmacy_id", with_pharmacy)) if n == 0
    )
    return Adapted(outputs, people, absent)


def check_fhir(claims: list[Path], patients: Path | None) -> None:
    """The files named are FHIR files, or folders holding some (transforms.adapters.check_inputs); their
    JSON is read by the night."""
    fhir_files(claims, say_skipped=False)
    if patients is not None:
        _fhir_file(patients, "--patients")


def fhir_files(paths: list[Path], say_skipped: bool = True) -> list[Path]:
    """The FHIR files named by --claims: files as given, folders as their NDJSON and JSON files.
    `say_skipped`: log the NDJSON files of other resource types left out of a folder."""
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            found.append(_fhir_file(path, "--claims"))
            continue
        files = sorted(p for p in path.iterdir() if p.is_file() and _kind(p) is not None)
        ndjson = [p for p in files if _kind(p) == "ndjson"]
        named = [p for p in ndjson if _named_type(p) in READ]
        skipped = [p for p in ndjson if named and p not in named]
        if skipped and say_skipped:
            log.info(
                "FHIR input %s: %d NDJSON file(s) named after resource types serosurv does not read skipped "
                "(%s)",
                path,
                len(skipped),
                ", ".join(p.name for p in skipped[:5]) + (", ..." if len(skipped) > 5 else ""),
            )
        chosen = [p for p in files if p not in skipped]
        if not chosen:
            raise SerosurvError(
                f"{path}: no FHIR files in the folder (NDJSON: .ndjson or .jsonl; Bundles: .json; "
                "optionally .gz)."
            )
        found.extend(chosen)
    return found


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(NDJSON_SUFFIXES):
        return "ndjson"
    if name.endswith(JSON_SUFFIXES):
        return "json"
    return None


def _named_type(path: Path) -> str | None:
    """The resource type a Bulk export file's name gives (`MedicationDispense.ndjson`,
    `1.MedicationDispense.000.ndjson`, `medicationdispense_2.ndjson`), if it is one the adapter reads."""
    words = {word.lower() for word in re.split(r"[^A-Za-z]+", path.name)}
    return next((kind for kind in READ if kind.lower() in words), None)


def _fhir_file(path: Path, option: str) -> Path:
    if not path.is_file():
        raise SerosurvError(f"{path} does not exist.")
    if _kind(path) is None:
        raise SerosurvError(
            f"{path}: not a FHIR file; {option} with --format fhir takes NDJSON (.ndjson, .jsonl) or JSON "
            "Bundles (.json), optionally .gz, or folders of them."
        )
    return path


def _rows(con: duckdb.DuckDBPyConnection, path: Path, role: str, workdir: Path) -> str | None:
    """One input file's resources as Parquet (source_file, source_row, full_url, resource text, role);
    None for an empty file."""
    target = output_name(workdir, "fhir-rows", path)
    source = str(path.resolve())
    if _kind(path) == "ndjson":
        try:
            lines = pl.scan_csv(
                path,
                has_header=False,
                separator="\x1f",  # never in a JSON text: control characters are escaped in strings
                quote_char=None,
                new_columns=["resource"],
                infer_schema=False,
                encoding="utf8-lossy",
                truncate_ragged_lines=True,
            )
            lines.with_row_index("source_row", offset=1).select(
                pl.lit(source).alias("source_file"),
                pl.col("source_row").cast(pl.Int64),
                pl.lit(None, dtype=pl.String).alias("full_url"),
                pl.col("resource"),
                pl.lit(role).alias("role"),
            ).sink_parquet(target)
        except pl.exceptions.NoDataError:
            return None
        except (pl.exceptions.ComputeError, OSError) as exc:
            raise SerosurvError(f"{path}: cannot be read as NDJSON ({str(exc).splitlines()[0]}).") from None
        return str(target)
    try:
        copy_to(
            con,
            "staging/stg_fhir_entries.sql",
            target,
            {"path": str(path), "source_file": source, "role": role},
        )
    except duckdb.Error as exc:
        # DuckDB names the byte where the JSON breaks; its message quotes no content.
        at = re.search(r"at byte \d+", str(exc))
        raise SerosurvError(
            f"{path}: not a JSON document{f' ({at.group(0)})' if at else ''}; a FHIR JSON file holds one Bundle "
            "or resource (one resource per line is NDJSON: name it .ndjson)."
        ) from None
    return str(target)


def _log_counts(counts: list[tuple[str, str, int]], files: int) -> None:
    """The night's log line: what the FHIR input held, by type (counts only: no identifier)."""
    read = [f"{kind} {n:,}" for role, kind, n in counts if kind in READ]
    broken = sum(n for role, kind, n in counts if role == "claims" and kind == "(not JSON)")
    other = [f"{kind} {n:,}" for role, kind, n in counts if kind not in READ and kind != "(not JSON)"]
    log.info(
        "FHIR input: %d file(s); read %s%s%s",
        files,
        ", ".join(read) or "no resources",
        f"; {broken:,} line(s) not JSON (quarantined bad_json)" if broken else "",
        f"; not read: {', '.join(other)}" if other else "",
    )
