"""OMOP CDM v5.4 tables -> canonical claims (drug_exposure) and patients (person, observation_period).

`--claims` names a folder holding the tables as CSV or Parquet (file names case-insensitive:
drug_exposure.csv, DRUG_EXPOSURE.parquet, ...), or the drug_exposure file itself (its folder holds the
other tables). Tables used: `drug_exposure` (required), `concept` (required: names and codes), and when
present `person` and `observation_period` (patients: birth year, sex, coverage) - unless --patients is
given. `provider` is not needed: `provider_id` is the prescriber pseudonym.

The concept table: the folder's own (concept.csv, CONCEPT.csv, .parquet) or one in a vocabulary
subfolder (a folder named vocab..., as an Athena download unpacks: tab-delimited CONCEPT.csv). When
there are several, the one that names the most of the drug and source concepts drug_exposure uses wins
(the first of equals: the folder's own before a vocabulary folder's, then by name); a log line names the
table used and how many of those concepts it names (never an identifier).

| canonical | from OMOP |
|---|---|
| claim_id | drug_exposure_id |
| patient_id | person_id |
| fill_date / end_date | drug_exposure_start_date / drug_exposure_end_date (dates of the datetimes if only those); an end date of exactly start + days_supply (the first day without drug, as CMS SynPUF's and Synthea's ETLs write it) becomes start + days_supply - 1 (THEMIS), counted as `omop_end_dates_corrected` in the night's attrition; an administration row (drug_type_concept_id of an administered dose) with neither end date nor days supply is one day; any other row with neither is an ongoing order (`ongoing` true: exposure to the night, at most `[episodes] ongoing_max_days`) |
| days_supply | days_supply only when the end date is empty (0, the CDM's "unknown", is empty) |
| quantity | quantity; 0 becomes empty |
| drug_name | concept_name of drug_concept_id (none for 0, "No matching concept") |
| rxcui | concept_code when the concept's vocabulary_id is RxNorm (not RxNorm Extension, whose codes are not RxCUIs) |
| ndc | concept_code of drug_source_concept_id when its vocabulary is NDC, else drug_source_value when it is an NDC (11 digits or hyphenated): the drug of a row whose drug_concept_id is 0 |
| prescriber_id | provider_id (empty, 0 however written, or a [source] unknown_ids value = unknown) |
| rx_reference | visit_occurrence_id |

Ids (and concept ids) are read by the macro source_id: an export that wrote them as floats ('1.0',
'40231926.0') still joins its concepts and persons.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from serosurv.core.errors import SerosurvError
from transforms.adapters import Adapted
from transforms.adapters._source import (
    Header,
    Source,
    empty_view,
    is_table_file,
    output_name,
    write_claims,
    write_patients,
)
from transforms.sql import fetch, fetch_value

log = logging.getLogger("serosurv")

# The drug_exposure columns read (under the first name; "A|B": B when the file has no A), and the other
# tables' (sql/staging/stg_omop_claims.sql and stg_omop_patients.sql, which also hold the mapping's
# codes: administration types, NDC pattern, gender concepts).
EXPOSURE_COLUMNS = (
    "drug_exposure_id",
    "person_id",
    "drug_concept_id",
    "drug_source_concept_id",
    "drug_source_value",
    "provider_id",
    "drug_exposure_start_date|drug_exposure_start_datetime",
    "drug_exposure_end_date|drug_exposure_end_datetime",
    "days_supply",
    "drug_type_concept_id",
    "quantity",
    "visit_occurrence_id",
)
CONCEPT_COLUMNS = ("concept_id", "concept_name", "vocabulary_id", "concept_code")
PERSON_COLUMNS = ("person_id", "year_of_birth", "gender_concept_id", "gender_source_value")
OBSERVATION_COLUMNS = ("person_id", "observation_period_start_date", "observation_period_end_date")
# The columns each table must have.
EXPOSURE_REQUIRED = (
    "drug_exposure_id",
    "person_id",
    "drug_concept_id",
    "drug_exposure_start_date|drug_exposure_start_datetime",
)
PERSON_REQUIRED = ("person_id",)
VOCABULARY = "vocab"  # a subfolder whose name starts so may hold the vocabulary tables (Athena's download)


def find_tables(folder: Path, table: str) -> list[Path]:
    """The files in `folder` holding OMOP table `table` (any case, CSV or Parquet), by name."""
    return [
        path
        for path in sorted(folder.iterdir())
        if path.is_file() and is_table_file(path) and path.name.split(".")[0].lower() == table
    ]


def find_table(folder: Path, table: str) -> Path | None:
    found = find_tables(folder, table)
    return found[0] if found else None


def concept_tables(folder: Path) -> list[Path]:
    """The candidate concept tables: the folder's own, then those of its vocabulary subfolders."""
    vocabularies = [
        p for p in sorted(folder.iterdir()) if p.is_dir() and p.name.lower().startswith(VOCABULARY)
    ]
    return [*find_tables(folder, "concept"), *(t for v in vocabularies for t in find_tables(v, "concept"))]


def check_omop(claims: list[Path], patients: Path | None) -> None:
    """The tables each input names and their required columns, from their headers
    (transforms.adapters.check_inputs)."""
    for given in claims:
        exposure, folder = _exposure_table(given)
        Header(exposure, "OMOP drug_exposure").require(*EXPOSURE_REQUIRED)
        for path in _concept_candidates(folder):
            Header(path, "OMOP concept").require(*CONCEPT_COLUMNS)
    tables = _patient_tables(claims, patients)
    if tables:
        Header(tables[0], "OMOP person").require(*PERSON_REQUIRED)
    if len(tables) > 1:
        Header(tables[1], "OMOP observation_period").require(*OBSERVATION_COLUMNS)


def adapt_omop(
    con: duckdb.DuckDBPyConnection,
    claims: list[Path],
    patients: Path | None,
    workdir: Path,
    unknown_ids: tuple[str, ...],
) -> Adapted:
    outputs: list[Path] = []
    corrected = 0
    for given in claims:
        exposure, folder = _exposure_table(given)
        target, count = _drug_exposure(con, exposure, folder, workdir, unknown_ids)
        outputs.append(target)
        corrected += count
    patient_tables = _patient_tables(claims, patients)
    people = _patients(con, patient_tables, workdir) if patient_tables else None
    return Adapted(
        outputs,
        people,
        absent=("pharmacy_id",),  # the source records no dispensing pharmacy
        counts={"omop_end_dates_corrected": corrected},
    )


def _exposure_table(given: Path) -> tuple[Path, Path]:
    """The drug_exposure table a --claims input names (the file, or the one in the folder), and its folder."""
    folder = given if given.is_dir() else given.parent
    exposure = find_table(folder, "drug_exposure") if given.is_dir() else given
    if exposure is None or not exposure.is_file():
        raise SerosurvError(
            f"{given}: no OMOP drug_exposure table (drug_exposure.csv or .parquet) found there."
        )
    return exposure, folder


def _patient_tables(claims: list[Path], patients: Path | None) -> list[Path]:
    """The person table (--patients, else the first input folder's) and, beside it in a folder, the
    observation_period table; none when there is no person table."""
    for given in claims:
        folder = given if given.is_dir() else given.parent
        person = patients or find_table(folder, "person")
        if person is not None:
            return [person, *filter(None, [find_table(folder, "observation_period")])]
    return []


def _drug_exposure(
    con: duckdb.DuckDBPyConnection, path: Path, folder: Path, workdir: Path, unknown_ids: tuple[str, ...]
) -> tuple[Path, int]:
    """The claims Parquet of one drug_exposure table, and how many of its end dates were corrected."""
    s = Source(con, path, workdir, "OMOP drug_exposure")
    s.require(*EXPOSURE_REQUIRED)
    s.named_view("omop_drug_exposure", EXPOSURE_COLUMNS)
    _concepts(con, folder, workdir)
    params = {"unknown_ids": list(unknown_ids)}
    target = write_claims(con, s, "staging/stg_omop_claims.sql", output_name(workdir, "omop", path), params)
    corrected = fetch_value(
        con,
        "analyses/omop_end_dates_corrected.sql",
        params,
        inputs={"omop_claims": "staging/stg_omop_claims.sql"},
    )
    return target, int(corrected or 0)


def _concepts(con: duckdb.DuckDBPyConnection, folder: Path, workdir: Path) -> None:
    """The view omop_concept over the concept table chosen for the view omop_drug_exposure (see the
    module docstring), said in one log line."""
    candidates = _concept_candidates(folder)
    named: list[tuple[int, int]] = []
    sources: list[Source] = []
    for path in candidates:
        c = Source(con, path, workdir, "OMOP concept")
        c.require(*CONCEPT_COLUMNS)
        c.named_view("omop_concept", CONCEPT_COLUMNS)
        used, found = fetch(con, "analyses/omop_concepts_named.sql")[0]
        named.append((used, found))
        sources.append(c)
    best = max(range(len(candidates)), key=lambda i: named[i][1])  # max keeps the first of equals
    if best != len(candidates) - 1:
        sources[best].named_view("omop_concept", CONCEPT_COLUMNS)
    used, found = named[best]
    others = "; ".join(
        f"not {p.relative_to(folder).as_posix()}, which names {n:,}"
        for p, (_, n) in zip(candidates, named, strict=True)
        if p != candidates[best]
    )
    log.info(
        "OMOP concept table: %s, which names %s of the %s drug and source concepts drug_exposure uses%s",
        candidates[best].relative_to(folder).as_posix(),
        f"{found:,}",
        f"{used:,}",
        f" ({others})" if others else "",
    )


def _concept_candidates(folder: Path) -> list[Path]:
    candidates = concept_tables(folder)
    if not candidates:
        raise SerosurvError(
            f"{folder}: the OMOP concept table (concept.csv or .parquet, or CONCEPT.csv in a vocabulary "
            "folder) is missing; it names the drugs."
        )
    return candidates


def _patients(con: duckdb.DuckDBPyConnection, tables: list[Path], workdir: Path) -> Path:
    p = Source(con, tables[0], workdir, "OMOP person")
    p.require(*PERSON_REQUIRED)
    p.named_view("omop_person", PERSON_COLUMNS)
    if len(tables) > 1:
        o = Source(con, tables[1], workdir, "OMOP observation_period")
        o.require(*OBSERVATION_COLUMNS)
        o.named_view("omop_observation_period", OBSERVATION_COLUMNS)
    else:
        empty_view(con, "omop_observation_period", OBSERVATION_COLUMNS)
    return write_patients(con, "staging/stg_omop_patients.sql", output_name(workdir, "omop", p.path))
