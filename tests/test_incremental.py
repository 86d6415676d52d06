"""An incremental night (only patients with new or reversed claims recomputed) equals a full recompute."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from serosurv import api

HISTORY_END, NIGHT = date(2025, 12, 30), date(2025, 12, 31)
COMPARED = {
    "claims": "* EXCLUDE (run_id)",
    "fill_ingredients": "*",
    "fill_exposure": "*",
    "episodes": "*",
    "interactions": "*",
    "serotonergic_burden": "*",
    "alerts": "* EXCLUDE (first_seen_run, last_seen_run)",
    "alert_history": "* EXCLUDE (run_id, first_seen_run, computed_at)",
}

# The hand-made nights quarantine many rows on purpose: the gate's quarantine level is turned off.
OPEN_GATE = "[validation.checks]\nquarantine_rate = { warn = 0.0, stop = 0.0 }\n"


@pytest.fixture(scope="module")
def batches(generated, tmp_path_factory):
    """History up to the 30th; the 31st's claims plus 25 reversals of older claims arriving late."""
    folder = tmp_path_factory.mktemp("batches")
    con = duckdb.connect()
    con.execute("CREATE TABLE c AS SELECT * FROM read_parquet($p)", {"p": str(generated["claims"])})
    con.execute(
        "CREATE TABLE late AS SELECT claim_id FROM c WHERE claim_status = 'reversed' AND fill_date < $d "
        "ORDER BY claim_id LIMIT 25",
        {"d": HISTORY_END},
    )
    new_rows = "fill_date = $night OR claim_id IN (SELECT claim_id FROM late)"
    con.execute(
        f"COPY (SELECT * FROM c WHERE NOT ({new_rows}) OR fill_date IS NULL OR claim_id IS NULL) TO '{folder}/history.parquet'",
        {"night": NIGHT},
    )
    con.execute(f"COPY (SELECT * FROM c WHERE {new_rows}) TO '{folder}/night.parquet'", {"night": NIGHT})
    assert con.execute(f"SELECT count(*) FROM c WHERE {new_rows}", {"night": NIGHT}).fetchall()[0][0] > 25
    (folder / "full.toml").write_text("[engine]\nincremental = false\n" + OPEN_GATE)
    (folder / "incremental.toml").write_text(OPEN_GATE)
    return folder


def two_nights(batches, out, config):
    api.run(
        [batches / "history.parquet"],
        out_dir=out,
        warehouse=Path(out) / "serosurv.duckdb",
        as_of=HISTORY_END,
        config_file=batches / config,
    )
    # The history's claims dated the 31st were quarantined as future on the 30th; they are in tonight's file.
    return api.run(
        [batches / "night.parquet"],
        out_dir=out,
        warehouse=Path(out) / "serosurv.duckdb",
        as_of=NIGHT,
        config_file=batches / config,
    )


def test_incremental_night_equals_full_recompute(prefect_harness, batches, tmp_path):
    quick = two_nights(batches, tmp_path / "incremental", "incremental.toml")
    full = two_nights(batches, tmp_path / "full", "full.toml")
    assert 0 < quick.counts["patients_recomputed"] < 1500
    assert "patients_recomputed" not in full.counts
    con = duckdb.connect()
    con.execute(f"ATTACH '{tmp_path / 'incremental' / 'serosurv.duckdb'}' AS quick (READ_ONLY)")
    con.execute(f"ATTACH '{tmp_path / 'full' / 'serosurv.duckdb'}' AS full_run (READ_ONLY)")
    assert con.execute("SELECT recompute FROM quick.runs ORDER BY as_of").fetchall() == [
        ("full",),
        ("incremental",),
    ]
    for table, columns in COMPARED.items():
        only_quick = con.execute(
            f"SELECT count(*) FROM (SELECT {columns} FROM quick.{table} EXCEPT ALL SELECT {columns} FROM full_run.{table})"
        ).fetchall()[0][0]
        only_full = con.execute(
            f"SELECT count(*) FROM (SELECT {columns} FROM full_run.{table} EXCEPT ALL SELECT {columns} FROM quick.{table})"
        ).fetchall()[0][0]
        size = con.execute(f"SELECT count(*) FROM quick.{table}").fetchall()[0][0]
        assert (table, only_quick, only_full) == (table, 0, 0), f"{table}: {size} rows"
    con.close()


def test_a_night_after_the_engine_sql_changed_recomputes_everyone(
    prefect_harness, batches, tmp_path, monkeypatch
):
    """Stored results were written by the old SQL (e.g. without a column the new SQL adds): the first
    night on new engine SQL is a full recompute, the next one incremental again."""
    from transforms import incremental

    out = tmp_path / "upgrade"
    api.run(
        [batches / "history.parquet"],
        out_dir=out,
        warehouse=Path(out) / "serosurv.duckdb",
        as_of=HISTORY_END,
        config_file=batches / "incremental.toml",
    )
    monkeypatch.setattr(incremental, "engine_code", lambda: "sql of another version")
    night = api.run(
        [batches / "night.parquet"],
        out_dir=out,
        warehouse=Path(out) / "serosurv.duckdb",
        as_of=NIGHT,
        config_file=batches / "incremental.toml",
    )
    assert "patients_recomputed" not in night.counts
    again = api.run(
        [batches / "night.parquet"],
        out_dir=out,
        warehouse=Path(out) / "serosurv.duckdb",
        as_of=NIGHT,
        config_file=batches / "incremental.toml",
    )
    assert "patients_recomputed" in again.counts
    con = duckdb.connect(str(out / "serosurv.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT recompute FROM runs ORDER BY started_at").fetchall() == [
            ("full",),
            ("full",),
            ("incremental",),
        ]
    finally:
        con.close()


def test_incremental_scopes_work_on_a_warehouse_whose_name_needs_quoting(tmp_path):
    """The scopes name the warehouse's own tables by its database name, which is the file's: a file named
    night-store.duckdb is the database "night-store" (unquoted, `night-store.main.claims` is a syntax
    error)."""
    from serosurv.core.warehouse import connect
    from transforms import incremental

    con = connect(tmp_path / "night-store.duckdb")
    con.execute(
        "INSERT INTO claims (claim_id, patient_id, run_id) VALUES ('c1', 'p1', 'r1'), ('c2', 'p2', 'r0')"
    )
    con.execute("INSERT INTO fill_ingredients VALUES ('c2', 'sertraline', NULL, 'name', 'p2')")
    incremental.remember_forgotten(con, NIGHT)
    with incremental.mapping_scope(con, "r1"):
        assert con.execute("SELECT claim_id FROM claims").fetchall() == [("c1",)]
        con.execute("INSERT INTO fill_ingredients VALUES ('c1', 'tramadol', NULL, 'name', 'p1')")
    mapped = con.execute("SELECT claim_id, ingredient FROM fill_ingredients ORDER BY 1").fetchall()
    assert mapped == [("c1", "tramadol"), ("c2", "sertraline")]
    assert incremental.mark_affected(con, "r1", NIGHT, 90) == 1
    with incremental.patient_scope(con):
        assert con.execute("SELECT patient_id FROM claims").fetchall() == [("p1",)]
        con.execute(
            "INSERT INTO episodes (episode_id, patient_id, ingredient) VALUES ('e1', 'p1', 'tramadol')"
        )
    assert con.execute("SELECT episode_id, patient_id FROM episodes").fetchall() == [("e1", "p1")]
    con.close()
