"""Atomic nights: real runs killed with SIGKILL at many points leave the warehouse as it was, never a
partial report, and a rerun gives exactly the result of an uninterrupted run.

Night 1 (claims up to 2025-11-30) is loaded once; night 2 (the rest) is the night that is killed. Each
kill starts `serosurv run` in its own process group (the Prefect temporary server is a child of it)
and kills the whole group when a progress line appears on stderr, when a fault-injection hook says the
run reached a point around the commit, or after a delay.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from serosurv import api

ROOT = Path(__file__).resolve().parents[1]
NIGHT_1, NIGHT_2 = date(2025, 11, 30), date(2025, 12, 31)
REPORTS = ("report.html", "alerts.csv")
# Columns that differ between two runs of the same night by design: run ids and clock times.
VOLATILE = {"run_id", "started_at", "finished_at", "computed_at", "first_seen_run", "last_seen_run"}

# Fault injection around the commit, in the killed process only: announce a point on stderr, then wait
# there to be killed. `staged`: reports written as .tmp, COMMIT not yet run; `committed`: COMMIT done,
# no report moved into place; `renamed-one`: the first report moved into place, the second not yet.
HOOKS = r"""
import pathlib, sys, time
import flows.nightly as nightly

def announce(point):
    print(f"KILLPOINT {point}", file=sys.stderr, flush=True)
    time.sleep(120)

stage = nightly.write_night_reports
def staged_then_wait(*args, **kwargs):
    staged = stage(*args, **kwargs)
    if "{point}" == "staged":
        announce("staged")
    return staged
nightly.write_night_reports = staged_then_wait

rename, renamed = pathlib.Path.rename, []
def rename_then_wait(self, target):
    if self.name.endswith(".tmp"):
        if "{point}" == "committed" and not renamed:
            announce("committed")
        if "{point}" == "renamed-one" and len(renamed) == 1:
            announce("renamed-one")
        renamed.append(self.name)
    return rename(self, target)
pathlib.Path.rename = rename_then_wait

from serosurv.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass(frozen=True)
class KillPoint:
    """Kill when `line` (a regular expression) appears on stderr, plus `delay` seconds; or, without a
    line, `delay` seconds after start. `hook` names a fault-injection point (see HOOKS)."""

    name: str
    line: str | None = None
    delay: float = 0.0
    hook: str | None = None
    may_commit: bool = False  # the kill can land after COMMIT (the night is then whole and committed)


# One point of each kind: inside the transaction, staged before COMMIT, committed before the reports
# moved, half moved. `-m slow` kills at every progress line and hook and at random times.
DEFAULT_POINTS = (
    KillPoint("after-episodes", line=r"built [\d,]+ episodes"),
    KillPoint("reports-staged-before-commit", hook="staged"),
    KillPoint("committed-before-reports-moved", hook="committed", may_commit=True),
    KillPoint("first-report-moved", hook="renamed-one", may_commit=True),
)


def table_digests(
    path: Path, ignore: frozenset[str] = frozenset(), superseded_runs: bool = True
) -> dict[str, tuple[int, str]]:
    """Per table: (rows, md5 over the sorted JSON of every row), leaving out the `ignore` columns and,
    unless `superseded_runs`, the rows of runs replaced by a later run of the same night."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        digests = {}
        for table in tables:
            all_columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = $t ORDER BY column_index",
                    {"t": table},
                ).fetchall()
            ]
            kept = ", ".join(f'"{c}"' for c in all_columns if c not in ignore)
            where = ""
            if not superseded_runs and "run_id" in all_columns and table != "runs":
                where = (
                    "WHERE run_id IS NULL OR run_id NOT IN (SELECT run_id FROM runs AS r WHERE EXISTS ("
                    "SELECT 1 FROM runs AS later WHERE later.as_of = r.as_of AND later.started_at > r.started_at))"
                )
            digests[table] = con.execute(
                f"SELECT count(*), coalesce(md5(string_agg(j, '|' ORDER BY j)), '') "
                f"FROM (SELECT to_json(t)::VARCHAR AS j FROM (SELECT {kept} FROM {table} {where}) AS t)"
            ).fetchone()
        return digests
    finally:
        con.close()


def comparable(path: Path) -> dict[str, tuple[int, str]]:
    """The digests a rerun must reproduce: every table as the latest run of each night left it (a night
    killed after its COMMIT is a finished run, whose per-run rows stay as history), ignoring run ids
    and clock times; `runs` itself is compared through `last_run`."""
    digests = table_digests(path, frozenset(VOLATILE), superseded_runs=False)
    digests.pop("runs")
    return digests


def last_run(path: Path) -> tuple:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "SELECT as_of, status, rows_read, rows_accepted, rows_quarantined, config_hash, rules_hash "
            "FROM runs ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()


def normalised_report(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\d{8}-[0-9a-f]{8}", "RUN", text)
    return re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "TIME", text)


@dataclass
class Killed:
    point: KillPoint
    returncode: int
    killed: bool
    seconds: float
    stderr: str


def run_and_kill(point: KillPoint, claims: Path, patients: Path, out: Path, prefect_home: Path) -> Killed:
    """Start `serosurv run` for night 2 and SIGKILL its process group at `point`."""
    args = [
        "run",
        "--claims",
        str(claims),
        "--patients",
        str(patients),
        "--as-of",
        NIGHT_2.isoformat(),
        "--out",
        str(out),
        "--warehouse",
        str(out / "serosurv.duckdb"),
    ]
    if point.hook:
        command = [sys.executable, "-c", HOOKS.replace("{point}", point.hook), *args]
    else:
        command = [sys.executable, "-m", "serosurv", *args]  # the interpreter running the tests
    # The session's Prefect API serves every run (a killed run takes no server down with it, and no
    # run pays the temporary server's start).
    from prefect.settings import PREFECT_API_URL

    env = os.environ | {
        "DO_NOT_TRACK": "1",
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    fired = threading.Event()

    def kill_after(delay: float) -> None:
        if not fired.wait(delay):
            fired.set()
        with _ignore_gone():
            os.killpg(process.pid, signal.SIGKILL)

    trigger = re.compile(r"KILLPOINT " + point.hook if point.hook else point.line or r"(?!)")
    if point.line is None and point.hook is None:
        threading.Thread(target=kill_after, args=(point.delay,), daemon=True).start()
    for line in process.stderr:
        lines.append(line)
        if not fired.is_set() and trigger.search(line):
            fired.set()
            if point.delay:
                time.sleep(point.delay)
            with _ignore_gone():
                os.killpg(process.pid, signal.SIGKILL)
    returncode = process.wait(timeout=300)
    with _ignore_gone():  # the Prefect server child, should the run have ended on its own
        os.killpg(process.pid, signal.SIGKILL)
    return Killed(
        point, returncode, returncode == -signal.SIGKILL, time.monotonic() - started, "".join(lines)
    )


class _ignore_gone:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        return kind is ProcessLookupError


@pytest.fixture(scope="module")
def nights(prefect_harness, generated, tmp_path_factory):
    """Night 1 loaded into a base warehouse; night 2 run without interruption for the reference."""
    root = tmp_path_factory.mktemp("kill")
    con = duckdb.connect()
    files = {}
    for name, condition in (("night1", f"fill_date <= '{NIGHT_1}'"), ("night2", f"fill_date > '{NIGHT_1}'")):
        files[name] = root / f"{name}.parquet"
        con.execute(
            f"COPY (SELECT * FROM read_parquet($p) WHERE {condition}) TO '{files[name]}' (FORMAT parquet)",
            {"p": str(generated["claims"])},
        )
    con.close()
    base = root / "base"
    api.run(
        [files["night1"]],
        patients=generated["patients"],
        out_dir=base,
        warehouse=Path(base) / "serosurv.duckdb",
        as_of=NIGHT_1,
    )
    reference = root / "reference"
    shutil.copytree(base, reference)
    api.run(
        [files["night2"]],
        patients=generated["patients"],
        out_dir=reference,
        warehouse=Path(reference) / "serosurv.duckdb",
        as_of=NIGHT_2,
    )
    return {
        "root": root,
        "base": base,
        "night2": files["night2"],
        "patients": Path(generated["patients"]),
        "reference": comparable(reference / "serosurv.duckdb"),
        "reference_run": last_run(reference / "serosurv.duckdb"),
        "reference_reports": {n: normalised_report(reference / str(NIGHT_2) / n) for n in REPORTS},
    }


def check_kill_points(nights, points, tmp_path, workers: int = 2) -> list[Killed]:
    """Kill a run at every point, check what the kill left, then rerun and compare with the reference."""
    outs, before = {}, {}
    for i, point in enumerate(points):
        outs[i] = tmp_path / f"{i:03d}-{point.name}"
        shutil.copytree(nights["base"], outs[i])
        before[i] = table_digests(outs[i] / "serosurv.duckdb")

    def kill(i: int) -> Killed:
        # Concurrent runs get their own Prefect home (one SQLite database each), copied from the first.
        prefect_home = tmp_path / f"prefect-{i:03d}"
        if i:
            shutil.copytree(tmp_path / "prefect-000", prefect_home)
        return run_and_kill(points[i], nights["night2"], nights["patients"], outs[i], prefect_home)

    results = [kill(0)]  # alone: the first run creates the Prefect database
    with ThreadPoolExecutor(workers) as pool:
        results += list(pool.map(kill, range(1, len(points))))
    for i, killed in enumerate(results):
        where = f"kill point {killed.point.name} (after {killed.seconds:.1f} s)"
        warehouse, night_dir = outs[i] / "serosurv.duckdb", outs[i] / str(NIGHT_2)
        assert "Traceback" not in killed.stderr, f"{where}: {killed.stderr[-3000:]}"
        after = table_digests(warehouse)
        committed = after != before[i]
        if committed:
            # Only a kill after COMMIT (or a run that ended before the kill) may leave the night in place,
            # and then the whole night: exactly what the uninterrupted run left.
            assert killed.point.may_commit or not killed.killed, where
            assert comparable(warehouse) == nights["reference"], where
        for name in REPORTS:
            final = night_dir / name
            if final.exists():  # a report under its final name is always whole, and only after COMMIT
                assert committed, where
                assert normalised_report(final) == nights["reference_reports"][name], where
        api.run(
            [nights["night2"]],
            patients=nights["patients"],
            out_dir=outs[i],
            warehouse=Path(outs[i]) / "serosurv.duckdb",
            as_of=NIGHT_2,
        )
        assert comparable(warehouse) == nights["reference"], where
        assert last_run(warehouse) == nights["reference_run"], where
        for name in REPORTS:
            assert normalised_report(night_dir / name) == nights["reference_reports"][name], where
    return results


def test_a_night_killed_at_any_point_leaves_the_warehouse_as_it_was_and_reruns_identically(nights, tmp_path):
    results = check_kill_points(nights, DEFAULT_POINTS, tmp_path)
    killed = [r for r in results if r.killed]
    # Every scripted point is reached before the run ends (else the test would prove nothing).
    assert [r.point.name for r in killed] == [p.name for p in DEFAULT_POINTS]
    print(f"kill points tried: {len(results)}; killed: {len(killed)}")


@pytest.mark.slow
def test_many_random_kill_points(nights, tmp_path):
    """Every progress line and hook, plus kills at random times during start-up and the warehouse work."""
    rng = random.Random(int(os.environ.get("SEROSURV_KILL_SEED", "7")))
    lines = [
        r": read ",
        r": accepted ",
        r"data-quality gate",
        r"mapped drugs",
        r"built [\d,]+ episodes",
        r"found [\d,]+ interactions",
        r"periods of 3\+",
        r"alerts classified",
        r"wrote the audit",
    ]
    points = [
        KillPoint(f"line-{i}", line=line, may_commit=i == len(lines) - 1) for i, line in enumerate(lines)
    ]
    points += [
        KillPoint(f"hook-{h}", hook=h, may_commit=h != "staged")
        for h in ("staged", "committed", "renamed-one")
    ]
    points += [
        KillPoint(f"at-{d:.2f}s", delay=d, may_commit=True)
        for d in sorted(rng.uniform(1, 16) for _ in range(12))
    ]
    points += [
        KillPoint(f"read+{d:.2f}s", line=r": read ", delay=d, may_commit=True)
        for d in sorted(rng.uniform(0, 4) for _ in range(16))
    ]
    results = check_kill_points(nights, points, tmp_path)
    print(f"kill points tried: {len(results)}; killed: {sum(r.killed for r in results)}")
