"""Benchmark: the fixed cost of a night, what every night pays whatever its size.

    .venv/bin/python -m benchmarks.fixed_cost --workdir /tmp/fixed [--repeat 3] [--with-server]
    .venv/bin/python -m benchmarks.fixed_cost --code before=/tmp/main-checkout --code after=. --repeat 5

A two-claim night (`serosurv run` on a 2-row CSV), each in its own process under /usr/bin/time -v:
with a fresh PREFECT_HOME every time (Prefect creates and migrates its database), with one kept
PREFECT_HOME (the Makefile's set-up), with none set (the default; HOME and XDG_CACHE_HOME point into
the work folder, so the user's own folders are untouched), and, with `--with-server`, against a running
`prefect server start` (PREFECT_API_URL). Then the time to the error of input errors that need no
Prefect (a missing file, an empty file, a missing required column, an unreadable configuration), and
the import time of the modules a night loads (`python -X importtime`, cumulative).

Prints, per case, the median over `--repeat` runs of: wall seconds, CPU seconds (user + system, the
process and the children it waited for, e.g. Prefect's temporary API server), the peak memory of the
largest process (/usr/bin/time's maximum resident set size) and of all the night's processes together
(sampled every 50 ms). `--code LABEL=DIR` measures another checkout of serosurv with this interpreter;
given several times (a before and an after), the checkouts take turns run by run, so that a load that
changes meanwhile (another process on the machine) weighs on each alike.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from benchmarks.run import prefect_server

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = (
    "claim_id,patient_id,fill_date,days_supply,drug_name\n"
    "C1,P1,2025-06-01,30,sertraline\n"
    "C2,P1,2025-06-05,30,tramadol\n"
)
IMPORTS = (
    "serosurv.cli",
    "serosurv.api",
    "prefect",
    "flows.nightly",
    "great_expectations",
    "prefect.server.api.server",
)


@dataclass
class Sample:
    wall_s: float
    cpu_s: float
    peak_mb: float  # the largest process
    tree_peak_mb: float  # all the command's processes together
    returncode: int
    stderr: str


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def measure(command: list[str], env: dict[str, str], cwd: Path) -> Sample:
    started = time.perf_counter()
    child = subprocess.Popen(
        ["/usr/bin/time", "-v", *command],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        watched = psutil.Process(child.pid)
        while not done.is_set():
            try:
                peak = max(peak, _tree_rss(watched))
            except psutil.Error:
                return
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = child.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", stderr).group(1))
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", stderr).group(1))
    largest = float(re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr).group(1)) / 1024
    own = stderr.split("\tCommand being timed:")[0]
    return Sample(wall, user + system, largest, peak / 2**20, child.returncode, own)


def _environment(code: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SEROSURV_"))}
    return env | {"DO_NOT_TRACK": "1", "PYTHONPATH": str(code)} | extra


def _night(claims: Path, folder: Path) -> list[str]:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    warehouse = folder / "serosurv.duckdb"
    return [sys.executable, "-m", "serosurv", "run", "--claims", str(claims), "--as-of", "2025-06-30"] + [
        "--out",
        str(folder / "out"),
        "--warehouse",
        str(warehouse),
    ]


def _row(name: str, label: str, samples: list[Sample], expect: int = 0) -> str:
    failed = [s for s in samples if s.returncode != expect]
    if failed:
        last = failed[0].stderr.strip().splitlines()[-1:] or [""]
        return f"| {name} | {label} | failed: exit {failed[0].returncode}, expected {expect}: {last[0][:300]} | | | |"

    def median(values: list[float]) -> float:
        return statistics.median(values)

    walls = ", ".join(f"{s.wall_s:.1f}" for s in samples)
    return (
        f"| {name} | {label} | {median([s.wall_s for s in samples]):.2f} ({walls}) "
        f"| {median([s.cpu_s for s in samples]):.1f} | {median([s.peak_mb for s in samples]):,.0f} "
        f"| {median([s.tree_peak_mb for s in samples]):,.0f} |"
    )


def _interleaved(
    name: str,
    codes: dict[str, Path],
    repeat: int,
    run: Callable[[str, Path, int], Sample],
    expect: int = 0,
) -> None:
    """`repeat` runs of each checkout, alternating (a load that changes meanwhile is shared)."""
    samples: dict[str, list[Sample]] = {label: [] for label in codes}
    for i in range(repeat):
        for label, code in codes.items():
            samples[label].append(run(label, code, i))
    for label in codes:
        print(_row(name, label, samples[label], expect), flush=True)


def nights(workdir: Path, codes: dict[str, Path], repeat: int, api_url: str | None) -> None:
    claims = workdir / "claims.csv"
    claims.write_text(CLAIMS, encoding="utf-8")

    def fresh(label: str, i: int) -> dict[str, str]:
        home = workdir / label / f"prefect-home-fresh-{i}"
        shutil.rmtree(home, ignore_errors=True)
        return {"PREFECT_HOME": str(home)}

    def kept(label: str, i: int) -> dict[str, str]:
        return {"PREFECT_HOME": str(workdir / label / "prefect-home-kept")}

    def default(label: str, i: int) -> dict[str, str]:  # a home of its own, not the user's
        home = workdir / label / "home"
        home.mkdir(parents=True, exist_ok=True)
        return {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}

    cases: dict[str, Callable[[str, int], dict[str, str]]] = {
        "fresh PREFECT_HOME": fresh,
        "kept PREFECT_HOME": kept,
        "no PREFECT_HOME (default)": default,
    }
    if api_url:
        cases["running server (PREFECT_API_URL)"] = lambda label, i: {"PREFECT_API_URL": api_url}
    for name, extra in cases.items():

        def night(label: str, code: Path, i: int, extra=extra) -> Sample:
            env = _environment(code, **extra(label, i))
            return measure(_night(claims, workdir / label / "night"), env, workdir)

        if extra is not fresh:  # one untimed night first: the database exists, as on the second night
            for label, code in codes.items():
                night(label, code, -1)
        _interleaved(f"tiny night, {name}", codes, repeat, night)


def errors(workdir: Path, codes: dict[str, Path], repeat: int) -> None:
    folder = workdir / "errors"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.csv").write_bytes(b"")
    (folder / "no-fill-date.csv").write_text("claim_id,patient_id,days_supply,ndc\nC1,P1,30,1\n")
    (folder / "claims.csv").write_text(CLAIMS)
    (folder / "bad.toml").write_text("[engine\nincremental = true\n")
    cases = {
        "missing claims file": ["--claims", str(folder / "missing.csv")],
        "empty claims file": ["--claims", str(folder / "empty.csv")],
        "missing required column": ["--claims", str(folder / "no-fill-date.csv")],
        "unreadable configuration": ["--claims", str(folder / "claims.csv")]
        + ["--config", str(folder / "bad.toml")],
    }
    for name, arguments in cases.items():
        command = [sys.executable, "-m", "serosurv", "run", *arguments, "--as-of", "2025-06-30"]
        command += ["--warehouse", str(folder / "serosurv.duckdb"), "--out", str(folder / "out")]

        def refused(label: str, code: Path, i: int, command=command) -> Sample:
            env = _environment(code, PREFECT_HOME=str(workdir / label / "prefect-home-kept"))
            return measure(command, env, workdir)

        _interleaved(f"error: {name}", codes, repeat, refused, expect=2)


def imports(codes: dict[str, Path], repeat: int) -> None:
    for module in IMPORTS:
        seconds: dict[str, list[float]] = {label: [] for label in codes}
        for _ in range(repeat):
            for label, code in codes.items():
                done = subprocess.run(
                    [sys.executable, "-X", "importtime", "-c", f"import {module}"],
                    capture_output=True,
                    text=True,
                    env=_environment(code),
                    cwd=code,
                    check=True,
                )
                last = done.stderr.strip().splitlines()[-1]  # the module itself, cumulative
                seconds[label].append(int(last.split("|")[1]) / 1e6)
        for label in codes:
            print(f"| import {module} | {label} | {statistics.median(seconds[label]):.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/serosurv-fixed-cost"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--code",
        action="append",
        metavar="[LABEL=]DIR",
        help="a serosurv checkout to measure (default: this one); several are measured in turn, run by run",
    )
    parser.add_argument("--with-server", action="store_true", help="also a night against a running server")
    parser.add_argument("--only", choices=("nights", "errors", "imports"), help="measure only these")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    codes = {}
    for given in args.code or [str(ROOT)]:
        label, _, folder = given.rpartition("=")
        codes[label or Path(folder).name] = Path(folder).resolve()
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        + ", ".join(f"{label}: {code}" for label, code in codes.items()),
        flush=True,
    )
    if args.only in (None, "nights", "errors"):
        print("| case | code | wall s, median (each run) | CPU s | peak MB, largest process | peak MB, all |")
        print("|---|---|---|---|---|---|")
    if args.only in (None, "nights"):
        server = prefect_server(args.workdir) if args.with_server else None
        api_url = server.__enter__() if server else None
        try:
            nights(args.workdir, codes, args.repeat, api_url)
        finally:
            if server:
                server.__exit__(None, None, None)
    if args.only in (None, "errors"):
        errors(args.workdir, codes, args.repeat)
    if args.only in (None, "imports"):
        print("\n| import (own process, -X importtime) | code | s |\n|---|---|---|")
        imports(codes, args.repeat)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
