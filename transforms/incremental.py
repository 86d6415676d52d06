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
from serosurv.core.warehouse import count_rows
from transforms.runs import latest_success
from transforms.sql import create_macros, create_table, fetch_value, sql_identifier

ENGINE_OUTPUTS = ("fill_exposure", "episodes", "interactions", "serotonergic_burden")


# The engine's SQL (folders or files under sql/): a night after an upgrade that changed it recomputes
# everyone (stored results, e.g. fill_exposure of patients without new claims, may lack what the new SQL
# writes). The macros the engine's statements use are part of it.
ENGINE_SQL = (
    "macros/supply_end.sql",
    "macros/supply_days.sql",
    "macros/ongoing_end.sql",
    "macros/normalise_ndc.sql",
    "macros/ndc_candidates.sql",
    "intermediate",
    "analyses/fills_in_date_order.sql",
    "marts/interactions.sql",
    "marts/serotonergic_burden.sql",
)


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
    """What the engine's results depend on besides the claims: configuration, rules (with the RxNorm and NDC
    crosswalks shipped in rules/rxnorm/), the NDC and RxNorm crosswalks imported into the warehouse, and the
    engine's own SQL."""
    ndc = fetch_value(con, "analyses/ref_ndc_digest.sql")
    rxnorm = fetch_value(con, "analyses/ref_rxnorm_digest.sql")
    text = f"{config_hash}|{rules_hash}|{ndc}|{rxnorm}|{engine_code()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def can_update(con: duckdb.DuckDBPyConnection, engine_fingerprint: str, as_of: date) -> bool:
    """True when the last successful night ran with the same fingerprint and is not later than this one."""
    last = latest_success(con)
    return last is not None and last["engine_fingerprint"] == engine_fingerprint and last["as_of"] <= as_of


def remember_forgotten(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Before a rerun of a night deletes that night's earlier claims, note their patients and claim ids."""
    create_table(
        con, "forgotten_claims", "intermediate/int_forgotten_claims.sql", {"as_of": as_of}, temp=True
    )


def mark_affected(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, ongoing_max_days: int) -> int:
    """The patients with claims loaded tonight or removed by a rerun of this night, and those whose ongoing
    orders reach further tonight than on the last successful night (their exposure runs to the night)."""
    last = latest_success(con)
    create_macros(con, "ongoing_end")
    create_table(
        con,
        "affected_patients",
        "intermediate/int_affected_patients.sql",
        {
            "run_id": run_id,
            "as_of": as_of,
            "previous_as_of": last["as_of"] if last else as_of,
            "ongoing_max_days": ongoing_max_days,
        },
        temp=True,
    )
    return count_rows(con, "affected_patients")


# The scopes below shadow warehouse tables with temp tables of the same names and copy rows between the
# two: their statements are made of table names (the warehouse's database name, quoted, is only known
# at run time), which DuckDB cannot take as parameters.


def _warehouse_table(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The warehouse's own `table`, whatever temp table shadows it (database name quoted: a file named
    e.g. night-store.duckdb is the database "night-store")."""
    return f"{sql_identifier(fetch_value(con, 'analyses/current_database.sql'))}.main.{table}"


@contextmanager
def mapping_scope(con: duckdb.DuckDBPyConnection, run_id: str) -> Iterator[None]:
    """Map only tonight's claims: shadow `claims` with them and `fill_ingredients` with an empty table."""
    claims, fill_ingredients = _warehouse_table(con, "claims"), _warehouse_table(con, "fill_ingredients")
    con.execute(f"create temp table claims as select * from {claims} where run_id = $r", {"r": run_id})
    con.execute(f"create temp table fill_ingredients as select * from {fill_ingredients} limit 0")
    try:
        yield
        con.execute(
            f"delete from {fill_ingredients} where (patient_id, claim_id) in "
            "(select (patient_id, claim_id) from temp.main.claims"
            " union select (patient_id, claim_id) from forgotten_claims)"
        )
        con.execute(f"insert into {fill_ingredients} select * from temp.main.fill_ingredients")
    finally:
        con.execute("drop table if exists temp.main.claims")
        con.execute("drop table if exists temp.main.fill_ingredients")


@contextmanager
def patient_scope(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the engine on the affected patients only, then replace their rows in the warehouse."""
    scope = "select patient_id from affected_patients"
    # A copy, not a view: the engine reads `claims` several times (cancellations, exposures, counts) and a
    # view would scan the whole table each time. `fill_ingredients` is only ever joined to it.
    claims = _warehouse_table(con, "claims")
    con.execute(f"create temp table claims as select * from {claims} where patient_id in ({scope})")
    for table in ENGINE_OUTPUTS:
        con.execute(f"create temp table {table} as select * from {_warehouse_table(con, table)} limit 0")
    try:
        yield
        for table in ENGINE_OUTPUTS:
            stored = _warehouse_table(con, table)
            con.execute(f"delete from {stored} where patient_id in ({scope})")
            con.execute(f"insert into {stored} select * from temp.main.{table}")
    finally:
        con.execute("drop table if exists temp.main.claims")
        for table in ENGINE_OUTPUTS:
            con.execute(f"drop table if exists temp.main.{table}")
