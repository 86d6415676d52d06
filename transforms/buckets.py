"""Scale-out: patients are independent, so the engine can run on buckets of patients anywhere.

Claims are partitioned by a hash of patient_id into buckets written as Parquet files; each bucket runs
the unchanged engine on its own in-memory DuckDB (`run_bucket`, a pure function from files to files,
so a Dask worker on another machine can run it when the folder is on shared storage); the outputs are
loaded back into the warehouse. Results are identical to the single-machine run.

Paths are bound as parameters where DuckDB takes them (reading Parquet); a COPY target cannot be one,
so it is written as an escaped literal (transforms.sql.copy_to): any folder name works.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from serosurv.core.config import EpisodeConfig, InteractionConfig
from serosurv.core.warehouse import count_rows, ensure_schema
from transforms import engine
from transforms.sql import copy_table, copy_to, insert_into, replace_rows

OUTPUTS = ("fill_exposure", "episodes", "interactions", "serotonergic_burden")
PARTITIONED = "format parquet, partition_by (bucket), overwrite_or_ignore"


def export_buckets(con: duckdb.DuckDBPyConnection, folder: Path, buckets: int) -> list[Path]:
    """Write each bucket's claims and ingredient mappings, and the rule tables, under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    params = {"buckets": int(buckets)}
    copy_to(con, "analyses/bucket_claims.sql", folder / "claims", params, options=PARTITIONED)
    copy_to(
        con, "analyses/bucket_fill_ingredients.sql", folder / "fill_ingredients", params, options=PARTITIONED
    )
    copy_table(con, "rule_pairs", folder / "rule_pairs.parquet")
    copy_table(con, "serotonergic_ingredients", folder / "serotonergic.parquet")
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
            con.execute("set threads = $threads", {"threads": int(threads)})
        ensure_schema(con)
        for table in ("claims", "fill_ingredients"):
            files = sorted(str(path) for path in (root / table / f"bucket={bucket}").glob("*.parquet"))
            if files:  # listed here: a folder name may hold characters a glob would read as a pattern
                insert_into(con, table, "staging/stg_bucket_input.sql", {"files": files})
        pairs = pl.read_parquet(root / "rule_pairs.parquet", glob=False)
        serotonergic = frozenset(
            pl.read_parquet(root / "serotonergic.parquet", glob=False)["ingredient"].to_list()
        )
        engine.register_rules(con, pairs, serotonergic)
        episode_settings = EpisodeConfig(**episodes)
        engine.build_episodes(con, date.fromisoformat(as_of), episode_settings)
        engine.find_interactions(con, InteractionConfig(**interactions), episode_settings)
        engine.find_burden(con)
        for table in OUTPUTS:
            copy_table(con, table, out / f"{table}.parquet")
    finally:
        con.close()
    return str(out)


def load_outputs(con: duckdb.DuckDBPyConnection, outputs: list[str]) -> dict[str, int]:
    """Replace the engine tables with the buckets' outputs."""
    for table in OUTPUTS:
        files = [str(Path(o) / f"{table}.parquet") for o in outputs]
        replace_rows(con, table, "staging/stg_bucket_output.sql", {"files": files})
    return {"buckets": len(outputs), "episodes": count_rows(con, "episodes")}
