"""Benchmark: the whole night, the engine alone, the pandas baseline and two hand-written anchors, same claims.

    make bench                                   # both workloads at 1M and 10M claims
    .venv/bin/python -m benchmarks.run --claims 1M --workload serotonergic --workdir /tmp/bench
    .venv/bin/python -m benchmarks.run --claims 1M,10M,100M --workdir /big/disk

Per workload (`serosurv generate --workload`: general, or serotonergic with about half of the fills
serotonergic) and size, claims are generated once into WORKDIR/WORKLOAD/claims-N, then each measured
command runs in its own process under /usr/bin/time -v (wall time and peak memory), one at a time:

- the whole night (`serosurv run`), with its stages;
- the engine alone on the night's warehouse: accepted claims → episodes → interactions → burden
  (benchmarks/engine_only.py, rolled back);
- on the night's mapped paid fills and the rule pairs, as Parquet: the pandas baseline
  (benchmarks/pandas_reference.py) and the DuckDB and Polars anchors (benchmarks/anchors.py), which must
  print the same counts (the benchmark stops otherwise).

Engine and baselines are compared on their compute seconds (each prints its own, from its input to its
result, without Python's start-up and imports); the night against pandas on whole processes. Targets
(PRODUCT §3, issue 20): engine ≥ 3× pandas; engine within 1.5× of each anchor; night ≥ 1.5× pandas.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from serosurv.core.rules import load_rules
from transforms.synthetic import WORKLOADS, generate

# Generated claims per patient (one year), measured per workload at 20,000 patients.
CLAIMS_PER_PATIENT = {"general": 12.5, "serotonergic": 12.1}
AS_OF = "2025-12-31"
PYTHON = sys.executable
SEROSURV = str(Path(sys.executable).with_name("serosurv"))
BASELINES = {
    "pandas": ["benchmarks.pandas_reference"],
    "duckdb": ["benchmarks.anchors", "duckdb"],
    "polars": ["benchmarks.anchors", "polars"],
}
COUNTS = re.compile(r"^episodes=\d+ pairs=\d+ overlap_days=\d+$", re.MULTILINE)
# The night's progress lines (flows/nightly.py, "serosurv: DATE: MESSAGE (S s)") by stage.
STAGES = (
    ("adapt", r"mapped \S+ input onto"),
    ("read", r"read [\d,]+ rows"),
    ("validate", r"accepted [\d,]+ rows"),
    ("map drugs", r"mapped drugs"),
    ("quality gate", r"data-quality gate"),
    ("backfill", r"backfilled"),
    ("engine in buckets", r"ran the engine on"),
    ("episodes", r"built [\d,]+ episodes"),
    ("interactions", r"found [\d,]+ interactions"),
    ("burden", r"found [\d,]+ periods"),
    ("alerts", r"alerts classified"),
    ("report", r"wrote the audit report"),
)


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


def claims_data(workdir: Path, claims: int, workload: str = "general") -> Path:
    """The folder of generated claims of about `claims` rows in `workload`, generated when missing."""
    data = workdir / workload / f"claims-{claims}"
    if not (data / "claims.parquet").exists():
        patients = max(int(claims / CLAIMS_PER_PATIENT[workload]), 100)
        started = time.perf_counter()
        generate(data, patients, seed=1, workload=workload)
        print(
            f"  generated {patients:,} patients ({workload}) in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    return data


def export_baseline_inputs(warehouse: Path, folder: Path) -> tuple[Path, Path, int]:
    """The night's mapped paid fills and the rule pairs, as the baselines read them; and the fills' count."""
    fills, pairs = folder / "fills.parquet", folder / "rule_pairs.parquet"
    load_rules().pair_table().select("ingredient_a", "ingredient_b").unique().write_parquet(pairs)
    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute(
        f"""COPY (SELECT c.patient_id, f.ingredient, c.fill_date, c.days_supply
                  FROM claims c JOIN fill_ingredients f USING (patient_id, claim_id)
                  WHERE c.claim_status = 'paid' AND c.days_supply IS NOT NULL) TO '{fills}'"""
    )
    (n_fills,) = con.execute("SELECT count(*) FROM read_parquet($f)", {"f": str(fills)}).fetchall()[0]
    con.close()
    return fills, pairs, n_fills


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def prefect_server(workdir: Path):
    """A long-running Prefect server on loopback, as production would have; yields its API URL."""
    port = _free_port()  # not a fixed port: another benchmark may be running its own server
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


def night_command(data: Path, out: Path) -> list[str]:
    for stale in out.glob("serosurv.duckdb*"):
        stale.unlink()
    return [
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
        "--warehouse",
        str(out / "serosurv.duckdb"),
    ]


def night_stages(output: str) -> dict[str, float]:
    """Seconds per stage of a night, from its progress lines."""
    stages: dict[str, float] = {}
    for message, seconds in re.findall(r"serosurv: \S+: (.+?) \(([\d.]+) s\)", output):
        name = next((name for name, pattern in STAGES if re.match(pattern, message)), message)
        stages[name] = stages.get(name, 0.0) + float(seconds)
    return stages


def compute_seconds(measured: Measured) -> float:
    return float(re.search(r"compute_s=([\d.]+)", measured.output).group(1))


def bench(claims: int, workload: str, workdir: Path, api_url: str | None = None) -> dict:
    data = claims_data(workdir, claims, workload)
    out = data / "out"
    print(f"  {workload} {claims:,}: the night", file=sys.stderr)
    night = measure(night_command(data, out))
    stages = night_stages(night.output)
    rows = int(re.search(r"([\d,]+) rows read", night.output).group(1).replace(",", ""))
    print(f"  {workload} {claims:,}: the engine alone", file=sys.stderr)
    engine = measure([PYTHON, "-m", "benchmarks.engine_only", str(out / "serosurv.duckdb"), AS_OF])
    steps = {k: float(v) for k, v in re.findall(r"(episodes|interactions|burden)_s=([\d.]+)", engine.output)}
    engine_counts = re.search(r"episodes=\d+ interactions=\d+ burden_periods=\d+", engine.output).group(0)
    fills, pairs, n_fills = export_baseline_inputs(out / "serosurv.duckdb", data)
    baselines = {}
    for name, module in BASELINES.items():
        print(f"  {workload} {claims:,}: {name}", file=sys.stderr)
        baselines[name] = measure([PYTHON, "-m", *module, str(fills), str(pairs)])
    printed = {name: COUNTS.search(m.output) for name, m in baselines.items()}
    if len({p.group(0) if p else None for p in printed.values()}) != 1 or None in printed.values():
        lines = "\n".join(f"  {name}: {p.group(0) if p else '(no counts)'}" for name, p in printed.items())
        raise SystemExit(
            f"The baselines disagree on {workload} {claims:,} claims ({fills}):\n{lines}\n"
            "pandas_reference.py and anchors.py must compute the same thing: fix the one that is wrong."
        )
    served = None
    if api_url:
        print(f"  {workload} {claims:,}: the night against a running Prefect server", file=sys.stderr)
        served = measure(night_command(data, out), env={"PREFECT_API_URL": api_url})
    return {
        "claims": rows,
        "fills": n_fills,
        "night": night,
        "stages": stages,
        "engine": engine,
        "engine_s": sum(steps.values()),
        "engine_steps": steps,
        "engine_counts": engine_counts,
        "baselines": baselines,
        "compute_s": {name: compute_seconds(m) for name, m in baselines.items()},
        "baseline_counts": printed["pandas"].group(0),
        "served": served,
    }


def report(workload: str, results: list[dict]) -> None:
    print(f"\n## {workload} workload\n")
    print(
        "| claims | fills (baselines' input) | whole night s (peak MB) | Prefect + start-up s "
        "| engine s (peak MB) | pandas s (peak MB) | DuckDB anchor s (peak MB) | Polars anchor s (peak MB) "
        "| engine vs pandas (≥3×) | engine / DuckDB (≤1.5) | engine / Polars (≤1.5) "
        "| night vs pandas (≥1.5×) | claims/s (night) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        night, engine, base, compute = r["night"], r["engine"], r["baselines"], r["compute_s"]
        overhead = night.seconds - sum(r["stages"].values())
        cells = [
            f"{r['claims']:,}",
            f"{r['fills']:,}",
            f"{night.seconds:.1f} ({night.peak_mb:,.0f})",
            f"{overhead:.1f}",
            f"{r['engine_s']:.2f} ({engine.peak_mb:,.0f})",
            *(f"{compute[name]:.2f} ({base[name].peak_mb:,.0f})" for name in BASELINES),
            f"{compute['pandas'] / r['engine_s']:.1f}×",
            f"{r['engine_s'] / compute['duckdb']:.2f}",
            f"{r['engine_s'] / compute['polars']:.2f}",
            f"{base['pandas'].seconds / night.seconds:.2f}×",
            f"{r['claims'] / night.seconds:,.0f}",
        ]
        print("| " + " | ".join(cells) + " |", flush=True)
    for r in results:
        print(f"\nat {r['claims']:,} claims ({workload}):")
        print("- night stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["stages"].items()))
        print(
            "- engine steps: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in r["engine_steps"].items())
            + f" ({r['engine_counts']})"
        )
        print(f"- baselines agree: {r['baseline_counts']}")
        print(
            "- whole processes (start-up and imports included): "
            f"engine {r['engine'].seconds:.1f} s, "
            + ", ".join(f"{name} {m.seconds:.1f} s" for name, m in r["baselines"].items())
        )
        if r["served"] is not None:
            print(
                f"- whole night with a running Prefect server: {r['served'].seconds:.1f} s "
                f"(vs {r['night'].seconds:.1f} s with the temporary one)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", default="1M,10M", help="comma-separated sizes, e.g. 1M,10M,100M")
    parser.add_argument(
        "--workload",
        default=",".join(WORKLOADS),
        help=f"comma-separated generator workloads (default: {','.join(WORKLOADS)})",
    )
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/data"))
    parser.add_argument(
        "--with-server",
        action="store_true",
        help="also time the night against a running Prefect server (production set-up)",
    )
    args = parser.parse_args()
    workloads = [w.strip() for w in args.workload.split(",") if w.strip()]
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}: give {', '.join(WORKLOADS)}")
    sizes = [parse_size(size) for size in args.claims.split(",")]
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    results: dict[str, list[dict]] = {}
    with ExitStack() as stack:
        api_url = stack.enter_context(prefect_server(args.workdir)) if args.with_server else None
        for workload in workloads:
            results[workload] = [bench(size, workload, args.workdir, api_url) for size in sizes]
    print(
        "\nEngine and baselines: compute seconds (from their input to their result, no start-up or "
        "imports); night vs pandas: whole processes."
    )
    for workload, measured in results.items():
        report(workload, measured)


if __name__ == "__main__":
    main()
