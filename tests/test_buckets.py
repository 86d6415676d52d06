"""Scale-out: the engine run on hash buckets of patients (locally or on a Dask cluster) equals one run."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from serosurv import api
from serosurv.core.config import Config
from serosurv.core.rules import load_rules
from transforms import buckets, engine, ingest, normalise, validate

AS_OF = date(2025, 12, 31)
TABLES = ("fill_exposure", "episodes", "interactions", "serotonergic_burden")


def differences(con, left: str, right: str) -> dict[str, tuple[int, int, int]]:
    """Rows only in left, only in right, and in left, per engine table."""

    def count(sql: str) -> int:
        return con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0]

    return {
        table: (
            count(f"FROM {left}.{table} EXCEPT ALL FROM {right}.{table}"),
            count(f"FROM {right}.{table} EXCEPT ALL FROM {left}.{table}"),
            count(f"FROM {left}.{table}"),
        )
        for table in TABLES
    }


@pytest.fixture
def loaded(generated, tmp_path):
    """A warehouse with the generated claims accepted and mapped (no Prefect needed)."""
    from serosurv.core.warehouse import connect

    con = connect(tmp_path / "single.duckdb")
    ingest.stage_claims(con, [Path(generated["claims"])], tmp_path / "staged")
    validate.check_claims(con, "r1", AS_OF, "2000-01-01")
    normalise.map_ingredients(con, load_rules(), "r1")
    engine.register_rules(con, load_rules().pair_table())
    return con


# A folder name with an apostrophe (or glob characters) must not break the SQL that reads or writes it.
@pytest.mark.parametrize("folder", ["buckets", "o'brien [bucket*]"])
def test_buckets_run_one_by_one_equal_the_single_run(loaded, tmp_path, folder):
    config = Config()
    engine.build_episodes(loaded, AS_OF, config.episodes)
    engine.find_interactions(loaded, config.interactions, config.episodes)
    engine.find_burden(loaded)
    loaded.execute(f"ATTACH '{tmp_path / 'bucketed.duckdb'}' AS bucketed")
    for table in TABLES:
        loaded.execute(f"CREATE TABLE bucketed.{table} AS FROM {table}")
    folders = buckets.export_buckets(loaded, tmp_path / folder, 4)
    assert len(folders) == 4
    settings = config.to_dict()
    outputs = [
        buckets.run_bucket(
            str(tmp_path / folder), b, AS_OF.isoformat(), settings["episodes"], settings["interactions"]
        )
        for b in range(4)
    ]
    loaded.execute("DETACH bucketed")
    loaded.execute(f"ATTACH '{tmp_path / 'bucketed.duckdb'}' AS reference")
    buckets.load_outputs(loaded, outputs)
    db = loaded.execute("SELECT current_database()").fetchall()[0][0]
    diff = differences(loaded, db, "reference")
    assert all(only_left == only_right == 0 and size > 0 for only_left, only_right, size in diff.values()), (
        diff
    )


def test_the_nightly_flow_on_a_local_dask_cluster_equals_the_single_machine_run(
    prefect_harness, generated, tmp_path
):
    (tmp_path / "dask.toml").write_text("[engine]\nbuckets = 3\n")
    single = api.run(
        [generated["claims"]],
        out_dir=tmp_path / "single",
        warehouse=Path(tmp_path / "single") / "serosurv.duckdb",
        as_of=AS_OF,
    )
    spread = api.run(
        [generated["claims"]],
        out_dir=tmp_path / "dask",
        warehouse=Path(tmp_path / "dask") / "serosurv.duckdb",
        as_of=AS_OF,
        config_file=tmp_path / "dask.toml",
    )
    assert spread.counts["buckets"] == 3
    assert spread.counts["alerts_new"] == single.counts["alerts_new"]
    con = duckdb.connect()
    con.execute(f"ATTACH '{tmp_path / 'single' / 'serosurv.duckdb'}' AS single (READ_ONLY)")
    con.execute(f"ATTACH '{tmp_path / 'dask' / 'serosurv.duckdb'}' AS spread (READ_ONLY)")
    diff = differences(con, "single", "spread")
    assert all(only_left == only_right == 0 and size > 0 for only_left, only_right, size in diff.values()), (
        diff
    )
