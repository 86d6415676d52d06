"""Incremental nights: recompute only the patients whose claims changed, with results identical to a full run.

Patients are independent, so the engine can run on a subset. The subset runs unchanged SQL against
temporary views and tables that shadow the warehouse tables of the same names (DuckDB resolves
unqualified names to the temp catalog first): the input `claims` shows the affected patients' rows,
outputs start empty; afterwards the affected patients' rows in the warehouse are replaced by the
shadows' rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import duckdb

from serosurv.core.resources import data_dir
from serosurv.core.warehouse import rows, scalar
from transforms.runs import latest_success

ENGINE_OUTPUTS = ("fill_exposure", "episodes", "interactions", "serotonergic_burden")


# The engine's SQL: a night after an upgrade that changed it recomputes everyone (stored results, e.g.
# fill_exposure of patients without new claims, may lack what the new SQL writes).
ENGINE_SQL = ("intermediate", "marts/interactions.sql", "marts/serotonergic_burden.sql")


def engine_code() -> str:
    """A digest of the engine's SQL files."""
    root = data_dir("sql")
    files = sorted(
        path
        for name in ENGINE_SQL
        for path in ((root / name).glob("*.sql") if (root / name).is_dir() else [root / name])
    )
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def fingerprint(con: duckdb.DuckDBPyConnection, config_hash: str, rules_hash: str) -> str:
    """What the engine's results depend on besides the claims: configuration, rules, NDC crosswalk and
    the engine's own SQL."""
    (crosswalk,) = rows(
        con, "SELECT count(*) || ':' || coalesce(bit_xor(hash(ndc, ingredient, route)), 0) FROM ref_ndc"
    )[0]
    text = f"{config_hash}|{rules_hash}|{crosswalk}|{engine_code()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def can_update(con: duckdb.DuckDBPyConnection, engine_fingerprint: str, as_of: date) -> bool:
    """True when the last successful night ran with the same fingerprint and is not later than this one."""
    last = latest_success(con)
    return last is not None and last["engine_fingerprint"] == engine_fingerprint and last["as_of"] <= as_of


def remember_forgotten(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Before a rerun of a night deletes that night's earlier claims, note their patients and claim ids."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE forgotten_claims AS SELECT claim_id, patient_id FROM claims "
        "WHERE run_id IN (SELECT run_id FROM runs WHERE as_of = $as_of)",
        {"as_of": as_of},
    )


def mark_affected(con: duckdb.DuckDBPyConnection, run_id: str) -> int:
    """The patients with claims loaded tonight or removed by a rerun of this night."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE affected_patients AS "
        "SELECT DISTINCT patient_id FROM claims WHERE run_id = $run_id "
        "UNION SELECT patient_id FROM forgotten_claims",
        {"run_id": run_id},
    )
    return scalar(con, "SELECT count(*) FROM affected_patients")


def _database(con: duckdb.DuckDBPyConnection) -> str:
    return scalar(con, "SELECT current_database()")


@contextmanager
def mapping_scope(con: duckdb.DuckDBPyConnection, run_id: str) -> Iterator[None]:
    """Map only tonight's claims: shadow `claims` with them and `fill_ingredients` with an empty table."""
    db = _database(con)
    con.execute(
        f"CREATE TEMP TABLE claims AS SELECT * FROM {db}.main.claims WHERE run_id = $r", {"r": run_id}
    )
    con.execute(f"CREATE TEMP TABLE fill_ingredients AS SELECT * FROM {db}.main.fill_ingredients LIMIT 0")
    try:
        yield
        con.execute(
            f"DELETE FROM {db}.main.fill_ingredients WHERE claim_id IN "
            "(SELECT claim_id FROM temp.main.claims UNION SELECT claim_id FROM forgotten_claims)"
        )
        con.execute(f"INSERT INTO {db}.main.fill_ingredients SELECT * FROM temp.main.fill_ingredients")
    finally:
        con.execute("DROP TABLE IF EXISTS temp.main.claims")
        con.execute("DROP TABLE IF EXISTS temp.main.fill_ingredients")


@contextmanager
def patient_scope(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the engine on the affected patients only, then replace their rows in the warehouse."""
    db = _database(con)
    scope = "SELECT patient_id FROM affected_patients"
    # A view, read once by the engine's first step; `fill_ingredients` is only ever joined to it.
    con.execute(f"CREATE TEMP VIEW claims AS SELECT * FROM {db}.main.claims WHERE patient_id IN ({scope})")
    for table in ENGINE_OUTPUTS:
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {db}.main.{table} LIMIT 0")
    try:
        yield
        for table in ENGINE_OUTPUTS:
            con.execute(f"DELETE FROM {db}.main.{table} WHERE patient_id IN ({scope})")
            con.execute(f"INSERT INTO {db}.main.{table} SELECT * FROM temp.main.{table}")
    finally:
        con.execute("DROP VIEW IF EXISTS temp.main.claims")
        for table in ENGINE_OUTPUTS:
            con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
