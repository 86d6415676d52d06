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
| fill_date / end_date | drug_exposure_start_date / drug_exposure_end_date (dates of the datetimes if only those); an administration row (drug_type_concept_id of an administered dose) with neither end date nor days supply is one day |
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
    is_table_file,
    iso_date,
    output_name,
    write_claims,
    write_patients,
)

NDC_PATTERN = r"^([0-9]{11}|[0-9]{4,5}-[0-9]{3,4}-[0-9]{1,2})$"
# drug_type_concept_id of administrations (OMOP Type Concept vocabulary): a dose given, not a supply. With
# no end date and no days supply such a row is one day of exposure (one IV methylene blue dose), never a
# quarantined row. 38000179/43542356/43542357/43542358/581373: physician administered drug (procedure,
# problem list, referral, EHR order); 38000180: inpatient administration; 32818: EHR administration record.
ADMINISTRATION_TYPES = ("38000179", "38000180", "43542356", "43542357", "43542358", "581373", "32818")
MALE, FEMALE = "8507", "8532"


def find_table(folder: Path, table: str) -> Path | None:
    for path in sorted(folder.iterdir()):
        if path.is_file() and is_table_file(path) and path.name.split(".")[0].lower() == table:
            return path
    return None


def adapt_omop(con: duckdb.DuckDBPyConnection, claims: list[Path], patients: Path | None,
               workdir: Path) -> Adapted:  # fmt: skip
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
    return Adapted(outputs, people)


def _drug_exposure(con: duckdb.DuckDBPyConnection, path: Path, concept_path: Path, workdir: Path) -> Path:
    s = Source(con, path, workdir, "OMOP drug_exposure")
    s.require("drug_exposure_id", "person_id", "drug_concept_id",
              "drug_exposure_start_date|drug_exposure_start_datetime")  # fmt: skip
    c = Source(con, concept_path, workdir, "OMOP concept")
    c.require("concept_id", "concept_name", "vocabulary_id", "concept_code")
    concepts = (
        f"(SELECT {c.col('concept_id')} AS concept_id, {c.col('concept_name')} AS concept_name, "
        f"{c.col('vocabulary_id')} AS vocabulary_id, {c.col('concept_code')} AS concept_code FROM {c.view})"
    )
    joins = (
        f"LEFT JOIN {concepts} AS drug ON drug.concept_id = {s.col('drug_concept_id')} "
        f"LEFT JOIN {concepts} AS src ON src.concept_id = {s.col('drug_source_concept_id')}"
    )
    source_value = s.col("drug_source_value")
    provider = s.col("provider_id")
    start_date = iso_date(s.col("drug_exposure_start_date", "drug_exposure_start_datetime"))
    given_end = iso_date(s.col("drug_exposure_end_date", "drug_exposure_end_datetime"))
    supply = f"nullif(try_cast({s.col('days_supply')} AS DOUBLE), 0)"
    administered = f"{s.col('drug_type_concept_id')} IN ({', '.join(repr(t) for t in ADMINISTRATION_TYPES)})"
    end_date = f"CASE WHEN {given_end} IS NULL AND {supply} IS NULL AND {administered} THEN {start_date} ELSE {given_end} END"
    fields = {
        "claim_id": s.col("drug_exposure_id"),
        "patient_id": s.col("person_id"),
        "fill_date": start_date,
        "end_date": end_date,
        # The CDM requires the end date (the engine prefers it anyway); days_supply is used only when
        # the end date is empty, so ETL-derived supplies (Synthea writes 371-day yearly renewals) do
        # not quarantine rows whose end date is fine. 0 is the CDM's "unknown".
        "days_supply": f"CASE WHEN {end_date} IS NOT NULL OR try_cast({s.col('days_supply')} AS DOUBLE) = 0 "
        f"THEN NULL ELSE {s.col('days_supply')} END",
        "quantity": f"CASE WHEN try_cast({s.col('quantity')} AS DOUBLE) = 0 THEN NULL ELSE {s.col('quantity')} END",
        "drug_name": "drug.concept_name",
        "rxcui": "CASE WHEN drug.vocabulary_id = 'RxNorm' THEN drug.concept_code END",
        "ndc": f"CASE WHEN src.vocabulary_id = 'NDC' THEN src.concept_code "
        f"WHEN regexp_matches({source_value}, '{NDC_PATTERN}') THEN {source_value} END",
        "prescriber_id": f"CASE WHEN {provider} = '0' THEN NULL ELSE {provider} END",
        "rx_reference": s.col("visit_occurrence_id"),
    }
    return write_claims(con, s, fields, output_name(workdir, "omop", path), joins=joins)


def _patients(con: duckdb.DuckDBPyConnection, tables: list[Path], workdir: Path) -> Path:
    p = Source(con, tables[0], workdir, "OMOP person")
    p.require("person_id")
    gender = p.col("gender_concept_id")
    sex = (
        f"CASE {gender} WHEN '{MALE}' THEN 'M' WHEN '{FEMALE}' THEN 'F' "
        f"ELSE upper(left({p.col('gender_source_value')}, 1)) END"
    )
    coverage = "NULL AS coverage_start, NULL AS coverage_end"
    joins = ""
    if len(tables) > 1:
        o = Source(con, tables[1], workdir, "OMOP observation_period")
        o.require("person_id", "observation_period_start_date", "observation_period_end_date")
        joins = (
            f"LEFT JOIN (SELECT {o.col('person_id')} AS op_person_id, "
            f"min(try_cast({o.col('observation_period_start_date')} AS DATE)) AS coverage_start, "
            f"max(try_cast({o.col('observation_period_end_date')} AS DATE)) AS coverage_end "
            f"FROM {o.view} GROUP BY 1) AS op ON op.op_person_id = {p.col('person_id')}"
        )
        coverage = "op.coverage_start, op.coverage_end"
    sql = (
        f"SELECT {p.col('person_id')} AS patient_id, {p.col('year_of_birth')} AS birth_year, {sex} AS sex, "
        f"{coverage} FROM {p.view} {joins}"
    )
    return write_patients(con, sql, output_name(workdir, "omop", p.path))
