"""The DuckDB warehouse: one file, its tables, and small query helpers.

Table names and columns in `SCHEMA` are a contract (PRODUCT.md §5): users query them directly.
Add columns freely; rename only with a migration.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from serosurv.core.config import BusyWait
from serosurv.core.errors import SerosurvError
from serosurv.core.lock import Held, wait_for_warehouse

CANONICAL_COLUMNS = (
    "claim_id",
    "patient_id",
    "fill_date",
    "days_supply",
    "end_date",
    "ndc",
    "rxcui",
    "drug_name",
    "quantity",
    "prescriber_id",
    "pharmacy_id",
    "claim_status",
    "fill_number",
    "rx_reference",
    "original_claim_id",
    # Optional: "true" marks an order that runs until stopped (an EHR order without a stop time): a row
    # without end_date and days_supply is then exposure to the night, capped by [episodes]
    # ongoing_max_days, instead of quarantined as missing_supply.
    "ongoing",
)

# One current interaction as an alert saw it on one night (alert_history.snapshot).
_ALERT_INTERACTION = """
    patient_id VARCHAR, ingredient_a VARCHAR, ingredient_b VARCHAR, interaction_id VARCHAR, rule_id VARCHAR,
    severity VARCHAR, severity_rank INTEGER, kind VARCHAR, first_overlap_date DATE, last_overlap_date DATE,
    overlap_days INTEGER, longest_overlap_days INTEGER, washout_gap_days INTEGER, initiation_order VARCHAR,
    prescriber_ids_a VARCHAR[], prescriber_ids_b VARCHAR[], pharmacy_ids_a VARCHAR[], pharmacy_ids_b VARCHAR[],
    claim_ids_a VARCHAR[], claim_ids_b VARCHAR[], n_serotonergic_prescribers INTEGER, last_fill_date_a DATE,
    last_fill_quantity_a DOUBLE, last_fill_days_supply_a INTEGER, last_fill_date_b DATE,
    last_fill_quantity_b DOUBLE, last_fill_days_supply_b INTEGER"""

# An alert's state on a night, shared by `alerts` and `alert_history` (see transforms/alerts.py).
_ALERT_STATE = """
    severity_rank INTEGER, longest_overlap_days INTEGER, washout_gap_days INTEGER, initiation_order VARCHAR,
    prescriber_ids_a VARCHAR[], prescriber_ids_b VARCHAR[], pharmacy_ids_a VARCHAR[], pharmacy_ids_b VARCHAR[],
    claim_ids_a VARCHAR[], claim_ids_b VARCHAR[], n_serotonergic_prescribers INTEGER, interaction_id VARCHAR,
    interaction_ids VARCHAR[], status_reasons VARCHAR[],
    priority_parts STRUCT(severity DOUBLE, cross_prescriber DOUBLE, cross_pharmacy DOUBLE, washout DOUBLE,
        recency DOUBLE, overlap DOUBLE, burden DOUBLE),
    reason_for_service VARCHAR, clinical_significance VARCHAR, other_prescriber_indicator VARCHAR,
    other_pharmacy_indicator VARCHAR, current_drug VARCHAR, other_drug VARCHAR, previous_fill_date DATE,
    previous_fill_quantity DOUBLE, newest_fill_date DATE, opened_on DATE, last_change_on DATE"""

SCHEMA = {
    "runs": """
        run_id VARCHAR PRIMARY KEY, as_of DATE, started_at TIMESTAMP, finished_at TIMESTAMP,
        status VARCHAR, rows_read BIGINT, rows_accepted BIGINT, rows_quarantined BIGINT,
        config_hash VARCHAR, rules_hash VARCHAR, input_files VARCHAR, message VARCHAR,
        parameters VARCHAR, engine_fingerprint VARCHAR, recompute VARCHAR""",
    "claims": """
        claim_id VARCHAR, patient_id VARCHAR, fill_date DATE, days_supply INTEGER, end_date DATE,
        ndc VARCHAR, rxcui VARCHAR, drug_name VARCHAR, quantity DOUBLE, prescriber_id VARCHAR,
        pharmacy_id VARCHAR, claim_status VARCHAR, fill_number INTEGER, rx_reference VARCHAR,
        original_claim_id VARCHAR, source_file VARCHAR, source_row BIGINT, run_id VARCHAR, ongoing BOOLEAN""",
    "quarantine": """
        source_file VARCHAR, source_row BIGINT, raw VARCHAR, reason_code VARCHAR, reason VARCHAR,
        run_id VARCHAR, patient_id VARCHAR""",
    "patients": """
        patient_id VARCHAR, birth_year INTEGER, sex VARCHAR, coverage_start DATE, coverage_end DATE,
        run_id VARCHAR""",
    "ref_ndc": "ndc VARCHAR, ingredient VARCHAR, route VARCHAR, product_name VARCHAR, source VARCHAR",
    # RxNorm codes of a user's RxNorm release or OMOP vocabulary -> rule ingredients (import-rxnorm).
    "ref_rxnorm": "rxcui VARCHAR, ingredient VARCHAR, route VARCHAR, tty VARCHAR, name VARCHAR, source VARCHAR",
    # How each night's fills mapped, per source file and drug field (sql/marts/night_mapping.sql).
    "night_mapping": """
        run_id VARCHAR, source_file VARCHAR, field VARCHAR, fills BIGINT, field_maps BIGINT,
        mapped_by_field BIGINT, beside_name BIGINT, beside_name_by_code BIGINT""",
    # A claim is (patient_id, claim_id): a claim id is unique per source and patient, not across patients.
    "fill_ingredients": "claim_id VARCHAR, ingredient VARCHAR, route VARCHAR, mapped_by VARCHAR, patient_id VARCHAR",
    "unmapped_drugs": "run_id VARCHAR, drug_name VARCHAR, ndc VARCHAR, fills BIGINT, patients BIGINT",
    "approximate_names": """
        run_id VARCHAR, drug_name VARCHAR, likely_match VARCHAR, ingredients VARCHAR, fills BIGINT,
        patients BIGINT""",
    # fill_key: the claims combined into one fill (episodes.same_day sum or max); empty when the claim is
    # its own fill (keep, the default).
    "fill_exposure": """
        patient_id VARCHAR, ingredient VARCHAR, route VARCHAR, claim_id VARCHAR, prescriber_id VARCHAR,
        pharmacy_id VARCHAR, exposure_start DATE, exposure_end DATE, days_supply INTEGER, fill_key VARCHAR, quantity DOUBLE,
        ongoing BOOLEAN""",
    "serotonergic_burden": """
        burden_id VARCHAR, patient_id VARCHAR, burden_start DATE, burden_end DATE, burden_days INTEGER,
        max_concurrent INTEGER, ingredients VARCHAR[], prescriber_ids VARCHAR[], n_prescribers INTEGER""",
    "episodes": """
        episode_id VARCHAR, patient_id VARCHAR, ingredient VARCHAR, episode_start DATE, episode_end DATE,
        n_fills INTEGER, claim_ids VARCHAR[], prescriber_ids VARCHAR[], pharmacy_ids VARCHAR[],
        routes VARCHAR[], supply_end DATE""",
    "interactions": """
        interaction_id VARCHAR, patient_id VARCHAR, ingredient_a VARCHAR, ingredient_b VARCHAR,
        rule_id VARCHAR, severity VARCHAR, severity_rank INTEGER, kind VARCHAR,
        first_overlap_date DATE, last_overlap_date DATE, overlap_days INTEGER,
        longest_overlap_days INTEGER, washout_gap_days INTEGER, initiation_order VARCHAR,
        prescriber_ids_a VARCHAR[], prescriber_ids_b VARCHAR[], pharmacy_ids_a VARCHAR[],
        pharmacy_ids_b VARCHAR[], cross_prescriber BOOLEAN, cross_pharmacy BOOLEAN,
        claim_ids_a VARCHAR[], claim_ids_b VARCHAR[], n_serotonergic_prescribers INTEGER""",
    # Alerts (transforms/alerts.py): `alert_history` is one row per alert and night (its state that night,
    # with `snapshot`, the current interactions it stood for, so later nights can be recomputed);
    # `alerts` is each alert's latest state plus its latest action; `alert_actions` every action taken.
    "alerts": f"""
        alert_id VARCHAR, patient_id VARCHAR, ingredient_a VARCHAR, ingredient_b VARCHAR,
        rule_id VARCHAR, severity VARCHAR, priority DOUBLE, status VARCHAR, first_seen_run VARCHAR,
        last_seen_run VARCHAR, action VARCHAR, action_at TIMESTAMP, action_note VARCHAR,
        kind VARCHAR, first_overlap_date DATE, last_overlap_date DATE, overlap_days INTEGER,
        cross_prescriber BOOLEAN, cross_pharmacy BOOLEAN, as_of DATE, {_ALERT_STATE},
        action_result VARCHAR, action_response VARCHAR, action_operator VARCHAR, snooze_until DATE,
        quiet BOOLEAN, never_reviewed BOOLEAN""",
    "alert_history": f"""
        as_of DATE, run_id VARCHAR, alert_id VARCHAR, status VARCHAR, severity VARCHAR,
        priority DOUBLE, patient_id VARCHAR, ingredient_a VARCHAR, ingredient_b VARCHAR, rule_id VARCHAR,
        kind VARCHAR, first_overlap_date DATE, last_overlap_date DATE, overlap_days INTEGER,
        cross_prescriber BOOLEAN, cross_pharmacy BOOLEAN, first_seen_run VARCHAR, {_ALERT_STATE},
        seen_prescriber_ids VARCHAR[], seen_pharmacy_ids VARCHAR[], baseline_overlap_days INTEGER,
        snapshot STRUCT({_ALERT_INTERACTION})[], computed_at TIMESTAMP""",
    "alert_actions": """
        action_id VARCHAR, alert_id VARCHAR, acted_at TIMESTAMP, operator VARCHAR, night DATE,
        status_at_action VARCHAR, action_code VARCHAR, result_code VARCHAR, response VARCHAR, note VARCHAR,
        snooze_until DATE""",
    "attrition": "run_id VARCHAR, step INTEGER, measure VARCHAR, value BIGINT",
    # The data-quality gate (transforms/quality.py): one row per check and night, with its outcome in words
    # (status passed / warning / stopped / not_judged), and the night's profile the checks judged.
    "dq_results": """
        run_id VARCHAR, suite VARCHAR, expectation VARCHAR, success BOOLEAN, observed VARCHAR,
        check_name VARCHAR, status VARCHAR, value DOUBLE, warn_level VARCHAR, stop_level VARCHAR,
        setting VARCHAR, message VARCHAR""",
    "night_profiles": """
        run_id VARCHAR, as_of DATE, rows_read BIGINT, rows_accepted BIGINT, rows_rejected BIGINT,
        paid_claims BIGINT, named_claims BIGINT, code_only_claims BIGINT, patients BIGINT,
        newest_fill_date DATE, quarantine_rate DOUBLE, reversal_share DOUBLE, rule_mapped_share DOUBLE,
        recognised_share DOUBLE, code_only_mapped_share DOUBLE, known_prescriber_share DOUBLE,
        known_pharmacy_share DOUBLE, newest_fill_lag_days DOUBLE, patients_per_claim DOUBLE,
        median_days_supply DOUBLE, long_supply_share DOUBLE, absent_fields VARCHAR,
        code_and_name_claims BIGINT, ten_digit_ndc_claims BIGINT, code_vs_name_share DOUBLE,
        code_systems VARCHAR, ongoing_claims BIGINT, top_reject_reason VARCHAR, top_reject_rows BIGINT""",
}


# DuckDB's words when another process has the file open: 'IO Error: Could not set lock on file "...":
# Conflicting lock is held in /usr/bin/python3.11 (PID 123). ...' (a read-only connection holds it too).
_CONFLICT = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


def open_file(path: Path, read_only: bool = False, wait: BusyWait | None = None) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, waiting up to `wait` while another process has the file open (DuckDB allows one
    read-write process, or any number of read-only ones, at a time) instead of failing at once."""

    def attempt() -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            first = str(exc).splitlines()[0]
            conflict = _CONFLICT.search(first)
            if conflict is None:
                raise SerosurvError(f"Cannot open the warehouse {path}: {first}") from None
            # Only the program's name and pid are kept: the rest of DuckDB's message is not repeated.
            program = os.path.basename(conflict["program"].strip()) or "another program"
            raise Held(f"{program} (pid {conflict['pid']})", writing=False) from None
        except duckdb.Error as exc:
            raise SerosurvError(f"Cannot open the warehouse {path}: {str(exc).splitlines()[0]}") from None

    return wait_for_warehouse(path, attempt, wait)


def connect(
    path: Path | str,
    memory_limit: str = "",
    threads: int = 0,
    temp_directory: str = "",
    wait: BusyWait | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open (or create) the warehouse file and make sure every contract table exists; while another
    process has it open, wait up to `wait` (None: refuse at once with WarehouseBusy)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = open_file(path, wait=wait)
    # DuckDB's own default is 80% of RAM; leave room for Python, Polars and the OS, and spill instead.
    # (Settings are bound, not formatted in: connect(config=...) would refuse a second connection to
    # the same file with other settings.)
    try:
        con.execute("set memory_limit = $limit", {"limit": memory_limit or default_memory_limit()})
        if threads:
            con.execute("set threads = $threads", {"threads": int(threads)})
    except duckdb.Error as exc:
        con.close()
        raise SerosurvError(f"Cannot use the warehouse settings: {str(exc).splitlines()[0]}") from None
    if temp_directory:
        Path(temp_directory).mkdir(parents=True, exist_ok=True)
        con.execute("set temp_directory = $d", {"d": str(temp_directory)})
    ensure_schema(con)
    return con


# Tables whose later columns are added to warehouses created before them (ALTER TABLE ... ADD COLUMN).
_MIGRATED_TABLES = tuple(SCHEMA)  # columns added since a warehouse was created are added to it


def open_existing(
    path: Path | str, read_only: bool = False, wait: BusyWait | None = None
) -> duckdb.DuckDBPyConnection:
    """A warehouse that a night already created (commands other than `run` never create one), waiting up
    to `wait` while another process has it open; one written by an older serosurv gets the tables and
    columns added since, even when opened to read. A read-only connection still blocks every writer (a
    night) while it is open: readers close it as soon as they have read."""
    path = Path(path)
    if not path.is_file():
        raise SerosurvError(
            f"The warehouse {path} does not exist; run a night first or pass --warehouse FILE."
        )
    if not read_only:
        return connect(path, wait=wait)
    con = open_file(path, read_only=True, wait=wait)
    if _schema_is_current(con):
        return con
    # Written by an older serosurv: a read-only connection cannot add the columns newer code reads, so
    # the schema is brought up to date once (tables and columns added, no row changed) and read again.
    con.close()
    connect(path, wait=wait).close()
    return open_file(path, read_only=True, wait=wait)


def _schema_is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether every table and column of SCHEMA is in the warehouse."""
    present = set(
        con.execute(
            "select table_name, column_name from duckdb_columns() where not internal "
            "and database_name = current_database() and schema_name = current_schema()"
        ).fetchall()
    )
    return all(
        (table, column.split()[0]) in present for table in SCHEMA for column in _split_columns(SCHEMA[table])
    )


def default_memory_limit() -> str:
    """40% of physical memory (the warehouse spills to disk beyond it)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(int(total * 0.4) // 2**20, 256)}MB"


def memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """DuckDB's memory limit in bytes (it reports e.g. '9.1 GiB')."""
    text = con.execute("select current_setting('memory_limit')").fetchall()[0][0]
    number, _, unit = text.partition(" ")
    scale = {
        "bytes": 1,
        "KiB": 2**10,
        "MiB": 2**20,
        "GiB": 2**30,
        "TiB": 2**40,
        "KB": 10**3,
        "MB": 10**6,
        "GB": 10**9,
        "TB": 10**12,
    }
    return int(float(number) * scale.get(unit, 1))


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for table, columns in SCHEMA.items():
        con.execute(f"create table if not exists {table} ({columns})")
    for table in _MIGRATED_TABLES:
        present = {
            name
            for (name,) in con.execute(
                "select column_name from duckdb_columns() where table_name = $t and not internal "
                "and database_name = current_database() and schema_name = current_schema()",
                {"t": table},
            ).fetchall()
        }
        for column in _split_columns(SCHEMA[table]):
            name = column.split()[0]
            if name not in present:
                con.execute(f"alter table {table} add column if not exists {column}")
                if (table, name) in _BACKFILLS:
                    con.execute(_BACKFILLS[table, name])


# Columns whose values an older warehouse already holds elsewhere, filled when the column is added. A fill's
# patient: before claims were keyed by (patient, claim id), a claim id named one claim, so it names its patient.
_BACKFILLS = {
    (
        "fill_ingredients",
        "patient_id",
    ): "update fill_ingredients set patient_id = claims.patient_id from claims "
    "where claims.claim_id = fill_ingredients.claim_id",
}


def _split_columns(columns: str) -> list[str]:
    """'a INT, b STRUCT(x INT, y INT)' -> ['a INT', 'b STRUCT(x INT, y INT)'] (commas at depth 0 only)."""
    parts, depth, current = [], 0, []
    for char in columns:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [" ".join(part.split()) for part in parts if part]


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: a failure inside rolls every change back."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the warehouse has `table` (tables a later release added may be missing from old files)."""
    found = con.execute(
        "select count(*) from duckdb_tables() where table_name = $t and database_name = current_database()",
        {"t": table},
    ).fetchall()
    return bool(found[0][0])


def count_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """The number of rows in `table` (a name from SCHEMA or the engine's own tables, never user text)."""
    return con.execute(f"select count(*) from {table}").fetchall()[0][0]


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
    return con.execute(sql, params or {}).fetchall()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> Any:
    result = rows(con, sql, params)
    return result[0][0] if result else None


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
    return con.sql(sql, params=params or {}).pl()
