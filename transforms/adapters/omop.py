"""OMOP CDM v5.4 tables -> canonical claims (drug_exposure) and patients (person, observation_period).

`--claims` names a folder holding the tables as CSV or Parquet (file names case-insensitive:
drug_exposure.csv, DRUG_EXPOSURE.parquet, ...), or the drug_exposure file itself (its folder holds the
other tables). Tables used: `drug_exposure` (required), `concept` (required: names and codes), and when
present `person` and `observation_period` (patients: birth year, sex, coverage) - unless --patients is
given. `provider` is not needed: `provider_id` is the prescriber pseudonym.

| canonical | from OMOP |
|---|---|
| claim_id | drug_exposure_id |
| patient_id | person_id |
| fill_date / end_date | drug_exposure_start_date / drug_exposure_end_date (dates of the datetimes if only those); an administration row (drug_type_concept_id of an administered dose) with neither end date nor days supply is one day; any other row with neither is an ongoing order (`ongoing` true: exposure to the night, at most `[episodes] ongoing_max_days`) |
| days_supply | days_supply only when the end date is empty (0, the CDM's "unknown", is empty) |
| quantity | quantity; 0 becomes empty |
| drug_name | concept_name of drug_concept_id |
| rxcui | concept_code when the concept's vocabulary_id is RxNorm (not RxNorm Extension, whose codes are not RxCUIs) |
| ndc | concept_code of drug_source_concept_id when its vocabulary is NDC, else drug_source_value when it is an NDC |
| prescriber_id | provider_id (0 = unknown) |
| rx_reference | visit_occurrence_id |
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from serosurv.core.errors import SerosurvError
from transforms.adapters import Adapted
from transforms.adapters._source import (
    Source,
    empty_view,
    is_table_file,
    output_name,
    write_claims,
    write_patients,
)

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


def find_table(folder: Path, table: str) -> Path | None:
    for path in sorted(folder.iterdir()):
        if path.is_file() and is_table_file(path) and path.name.split(".")[0].lower() == table:
            return path
    return None


def adapt_omop(
    con: duckdb.DuckDBPyConnection, claims: list[Path], patients: Path | None, workdir: Path
) -> Adapted:
    outputs: list[Path] = []
    patient_tables: list[Path] = []
    for given in claims:
        folder = given if given.is_dir() else given.parent
        exposure = find_table(folder, "drug_exposure") if given.is_dir() else given
        if exposure is None or not exposure.is_file():
            raise SerosurvError(
                f"{given}: no OMOP drug_exposure table (drug_exposure.csv or .parquet) found there."
            )
        concept = find_table(folder, "concept")
        if concept is None:
            raise SerosurvError(
                f"{folder}: the OMOP concept table (concept.csv or .parquet) is missing; it names the drugs."
            )
        outputs.append(_drug_exposure(con, exposure, concept, workdir))
        if not patient_tables:
            person = patients or find_table(folder, "person")
            if person is not None:
                patient_tables = [person, *filter(None, [find_table(folder, "observation_period")])]
    people = _patients(con, patient_tables, workdir) if patient_tables else None
    return Adapted(outputs, people, absent=("pharmacy_id",))  # the source records no dispensing pharmacy


def _drug_exposure(con: duckdb.DuckDBPyConnection, path: Path, concept_path: Path, workdir: Path) -> Path:
    s = Source(con, path, workdir, "OMOP drug_exposure")
    s.require(
        "drug_exposure_id",
        "person_id",
        "drug_concept_id",
        "drug_exposure_start_date|drug_exposure_start_datetime",
    )
    c = Source(con, concept_path, workdir, "OMOP concept")
    c.require("concept_id", "concept_name", "vocabulary_id", "concept_code")
    s.named_view("omop_drug_exposure", EXPOSURE_COLUMNS)
    c.named_view("omop_concept", CONCEPT_COLUMNS)
    return write_claims(con, s, "staging/stg_omop_claims.sql", output_name(workdir, "omop", path))


def _patients(con: duckdb.DuckDBPyConnection, tables: list[Path], workdir: Path) -> Path:
    p = Source(con, tables[0], workdir, "OMOP person")
    p.require("person_id")
    p.named_view("omop_person", PERSON_COLUMNS)
    if len(tables) > 1:
        o = Source(con, tables[1], workdir, "OMOP observation_period")
        o.require("person_id", "observation_period_start_date", "observation_period_end_date")
        o.named_view("omop_observation_period", OBSERVATION_COLUMNS)
    else:
        empty_view(con, "omop_observation_period", OBSERVATION_COLUMNS)
    return write_patients(con, "staging/stg_omop_patients.sql", output_name(workdir, "omop", p.path))
