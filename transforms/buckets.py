"""Scale-out: patients are independent, so the engine can run on buckets of patients anywhere.

Claims are partitioned by a hash of patient_id into buckets written as Parquet files; each bucket runs
the unchanged engine on its own in-memory DuckDB (`run_bucket`, a pure function from files to files,
so a Dask worker on another machine can run it when the folder is on shared storage); the outputs are
loaded back into the warehouse. Results are identical to the single-machine run.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from serosurv.core.config import EpisodeConfig, InteractionConfig
from serosurv.core.warehouse import ensure_schema, rows
from transforms import engine

OUTPUTS = ("fill_exposure", "episodes", "interactions", "serotonergic_burden")


def export_buckets(con: duckdb.DuckDBPyConnection, folder: Path, buckets: int) -> list[Path]:
    """Write each bucket's claims and ingredient mappings, and the rule tables, under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    bucket_of = f"hash(patient_id) % {int(buckets)}"
    con.execute(
        f"COPY (SELECT *, {bucket_of} AS bucket FROM claims) TO '{folder / 'claims'}' "
        "(FORMAT parquet, PARTITION_BY (bucket), OVERWRITE_OR_IGNORE)"
    )
    con.execute(
        f"COPY (SELECT f.*, {bucket_of} AS bucket FROM fill_ingredients f JOIN claims c USING (claim_id)) "
        f"TO '{folder / 'fill_ingredients'}' (FORMAT parquet, PARTITION_BY (bucket), OVERWRITE_OR_IGNORE)"
    )
    con.execute(f"COPY rule_pairs TO '{folder / 'rule_pairs.parquet'}' (FORMAT parquet)")
    con.execute(f"COPY serotonergic_ingredients TO '{folder / 'serotonergic.parquet'}' (FORMAT parquet)")
    return [folder / f"bucket={b}" for b in range(buckets)]


def run_bucket(
    folder: str, bucket: int, as_of: str, episodes: dict, interactions: dict, threads: int = 1
) -> str:
    """The engine on one bucket: reads folder/{claims,fill_ingredients}/bucket=N, writes folder/out/bucket=N.

    One DuckDB thread by default: a Dask cluster runs one worker process per core."""
    root = Path(folder)
    out = root / "out" / f"bucket={bucket}"
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        ensure_schema(con)
        for table in ("claims", "fill_ingredients"):
            files = root / table / f"bucket={bucket}"
            if files.exists():
                con.execute(
                    f"INSERT INTO {table} BY NAME SELECT * EXCLUDE (bucket) FROM read_parquet('{files}/*.parquet', "
                    "hive_partitioning = true)"
                )
        pairs = pl.read_parquet(root / "rule_pairs.parquet")
        serotonergic = frozenset(pl.read_parquet(root / "serotonergic.parquet")["ingredient"].to_list())
        engine.register_rules(con, pairs, serotonergic)
        episode_settings = EpisodeConfig(**episodes)
        engine.build_episodes(con, date.fromisoformat(as_of), episode_settings)
        engine.find_interactions(con, InteractionConfig(**interactions), episode_settings)
        engine.find_burden(con)
        for table in OUTPUTS:
            con.execute(f"COPY {table} TO '{out / table}.parquet' (FORMAT parquet)")
    finally:
        con.close()
    return str(out)


def load_outputs(con: duckdb.DuckDBPyConnection, outputs: list[str]) -> dict[str, int]:
    """Replace the engine tables with the buckets' outputs."""
    for table in OUTPUTS:
        con.execute(f"DELETE FROM {table}")
        files = ", ".join("'" + f"{o}/{table}.parquet".replace("'", "''") + "'" for o in outputs)
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet([{files}], hive_partitioning = false)"
        )
    return {"buckets": len(outputs), "episodes": rows(con, "SELECT count(*) FROM episodes")[0][0]}
