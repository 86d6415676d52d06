"""Benchmark: generate claims, run the whole night, the engine alone and the pandas baseline, same files.

    make bench                                   # 1M and 10M claims
    .venv/bin/python -m benchmarks.run --claims 1M,10M,100M --workdir /big/disk

Each measured command runs in its own process under /usr/bin/time -v (wall time and peak memory).
Prints per stage and in total: wall time, peak memory, claims per second, and ratios to the pandas
baseline measured in the same run on the same claims.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from serosurv.core.rules import load_rules
from transforms.synthetic import generate

CLAIMS_PER_PATIENT = 12.5
AS_OF = "2025-12-31"
PYTHON = sys.executable
SEROSURV = str(Path(sys.executable).with_name("serosurv"))


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    output: str


def measure(command: list[str], env: dict[str, str] | None = None) -> Measured:
    result = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(command)}\n{result.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time .*: (?:(\d+):)?(\d+):([\d.]+)", result.stderr)
    hours, minutes, seconds = (float(g) if g else 0.0 for g in wall.groups())
    peak = float(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1)) / 1024
    return Measured(hours * 3600 + minutes * 60 + seconds, peak, result.stdout + result.stderr)


def parse_size(text: str) -> int:
    text = text.strip().upper()
    factor = {"K": 1_000, "M": 1_000_000, "B": 1_000_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KMB")) * factor)


def export_baseline_inputs(warehouse: Path, workdir: Path) -> tuple[Path, Path]:
    """The mapped paid fills and the rule pairs, as the pandas baseline reads them."""
    fills, pairs = workdir / "fills.parquet", workdir / "rule_pairs.parquet"
    load_rules().pair_table().write_parquet(pairs)
    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute(
        f"""COPY (SELECT c.patient_id, f.ingredient, c.fill_date, c.days_supply
                  FROM claims c JOIN fill_ingredients f USING (claim_id)
                  WHERE c.claim_status = 'paid' AND c.days_supply IS NOT NULL) TO '{fills}'"""
    )
    con.close()
    return fills, pairs


@contextmanager
def prefect_server(workdir: Path):
    """A long-running Prefect server on loopback, as production would have; yields its API URL."""
    port = 4299
    env = {**os.environ, "PREFECT_HOME": str(workdir / "prefect-server-home"), "DO_NOT_TRACK": "1"}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("prefect")),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                time.sleep(1)
        else:
            raise SystemExit("the Prefect server did not start within 2 minutes")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench(claims: int, workdir: Path, api_url: str | None = None) -> dict[str, float]:
    data = workdir / f"claims-{claims}"
    patients = max(int(claims / CLAIMS_PER_PATIENT), 100)
    if not (data / "claims.parquet").exists():
        started = time.perf_counter()
        generate(data, patients, seed=1)
        print(f"  generated {patients:,} patients in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    out = data / "out"
    for stale in out.glob("serosurv.duckdb*"):
        stale.unlink()
    night = measure(
        [
            SEROSURV,
            "run",
            "--claims",
            str(data / "claims.parquet"),
            "--patients",
            str(data / "patients.parquet"),
            "--as-of",
            AS_OF,
            "--out",
            str(out),
        ]
    )
    stages = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"serosurv: \S+: (.+?) \(([\d.]+) s\)", night.output)
    }
    rows = int(re.search(r"([\d,]+) rows read", night.output).group(1).replace(",", ""))
    engine = measure([PYTHON, "-m", "benchmarks.engine_only", str(out / "serosurv.duckdb"), AS_OF])
    served = None
    if api_url:
        for stale in out.glob("serosurv.duckdb*"):
            stale.unlink()
        served = measure(
            [
                SEROSURV,
                "run",
                "--claims",
                str(data / "claims.parquet"),
                "--patients",
                str(data / "patients.parquet"),
                "--as-of",
                AS_OF,
                "--out",
                str(out),
            ],
            env={"PREFECT_API_URL": api_url},
        )
    fills, pairs = export_baseline_inputs(out / "serosurv.duckdb", data)
    baseline = measure([PYTHON, "-m", "benchmarks.pandas_reference", str(fills), str(pairs)])
    engine_inner = re.search(r"episodes_s=([\d.]+) interactions_s=([\d.]+)", engine.output)
    return {
        "claims": rows,
        "night_s": night.seconds,
        "night_peak_mb": night.peak_mb,
        "stages_s": sum(stages.values()),
        "engine_s": float(engine_inner.group(1)) + float(engine_inner.group(2)),
        "engine_process_s": engine.seconds,
        "engine_peak_mb": engine.peak_mb,
        "pandas_s": baseline.seconds,
        "pandas_peak_mb": baseline.peak_mb,
        "stages": stages,
        "served_s": served.seconds if served else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", default="1M,10M", help="comma-separated sizes, e.g. 1M,10M,100M")
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/data"))
    parser.add_argument(
        "--with-server",
        action="store_true",
        help="also time the night against a running Prefect server (production set-up)",
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        "| claims | whole night s (peak MB) | Prefect + start-up s | engine s (peak MB) | pandas s (peak MB) "
        "| engine vs pandas | night vs pandas | claims/s (night) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    details = []
    with ExitStack() as stack:
        api_url = stack.enter_context(prefect_server(args.workdir)) if args.with_server else None
        for size in args.claims.split(","):
            details.append(bench(parse_size(size), args.workdir, api_url))
    for r in details:
        overhead = r["night_s"] - r["stages_s"]
        print(
            f"| {r['claims']:,} | {r['night_s']:.1f} ({r['night_peak_mb']:,.0f}) | {overhead:.1f} "
            f"| {r['engine_s']:.1f} ({r['engine_peak_mb']:,.0f}) | {r['pandas_s']:.1f} ({r['pandas_peak_mb']:,.0f}) "
            f"| {r['pandas_s'] / r['engine_s']:.1f}x | {r['pandas_s'] / r['night_s']:.2f}x "
            f"| {r['claims'] / r['night_s']:,.0f} |",
            flush=True,
        )
    for r in details:
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in r["stages"].items())
        print(f"\nstages at {r['claims']:,} claims: {stages}")
        if r["served_s"] is not None:
            print(
                f"whole night with a running Prefect server: {r['served_s']:.1f} s "
                f"(vs {r['night_s']:.1f} s with the temporary one)"
            )


if __name__ == "__main__":
    main()
