"""One writer at a time: the warehouse lock, tested with real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from serosurv.core.errors import SerosurvError
from serosurv.core.lock import WarehouseBusy, holder, lock_path, warehouse_lock

ROOT = Path(__file__).resolve().parents[1]


def _hold_in_child(warehouse: Path, seconds: float = 60) -> subprocess.Popen:
    """A second process that takes the lock, says so on stdout, and keeps it for `seconds`."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from serosurv.core.lock import warehouse_lock
        with warehouse_lock({str(warehouse)!r}, command="run"):
            print("held", flush=True)
            time.sleep({seconds})
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True
    )
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_second_writer_is_refused_with_one_sentence_naming_the_holder(tmp_path):
    warehouse = tmp_path / "serosurv.duckdb"
    child = _hold_in_child(warehouse)
    try:
        with pytest.raises(WarehouseBusy) as refused, warehouse_lock(warehouse):
            pass
        message = str(refused.value)
        assert f"pid {child.pid}" in message and str(warehouse) in message
        assert message.count(". ") == 0 and message.endswith(".")  # one sentence
        assert refused.value.exit_code == 2 and isinstance(refused.value, SerosurvError)
        assert holder(warehouse)["pid"] == str(child.pid)
    finally:
        child.kill()
        child.wait()


def test_a_lock_left_by_a_killed_run_is_stale_and_taken_over(tmp_path):
    warehouse = tmp_path / "serosurv.duckdb"
    child = _hold_in_child(warehouse)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert lock_path(warehouse).exists()  # the label is left behind ...
    assert holder(warehouse) is None  # ... but the kernel released the flock with the process
    with warehouse_lock(warehouse):
        label = json.loads(lock_path(warehouse).read_text())
        assert label["pid"] == os.getpid()
    assert not lock_path(warehouse).exists()


def test_a_leftover_lock_file_with_garbage_does_not_block(tmp_path):
    warehouse = tmp_path / "serosurv.duckdb"
    lock_path(warehouse).write_bytes(b"\x00\xffnot json")
    with warehouse_lock(warehouse):
        assert holder(warehouse) is not None
    assert holder(warehouse) is None


def test_the_lock_is_reentrant_within_one_process_and_released_after_the_outer_block(tmp_path):
    warehouse = tmp_path / "serosurv.duckdb"
    with warehouse_lock(warehouse), warehouse_lock(warehouse):
        assert lock_path(warehouse).exists()
    assert not lock_path(warehouse).exists()
    child = _hold_in_child(warehouse, seconds=0.1)
    child.wait()


def test_the_lock_is_released_when_the_block_raises(tmp_path):
    warehouse = tmp_path / "serosurv.duckdb"
    with pytest.raises(RuntimeError), warehouse_lock(warehouse):
        raise RuntimeError("boom")
    with warehouse_lock(warehouse):
        pass


def test_the_lock_file_is_readable_by_its_owner_only(tmp_path):
    warehouse = tmp_path / "serosurv.duckdb"
    with warehouse_lock(warehouse):
        assert lock_path(warehouse).stat().st_mode & 0o077 == 0


def test_many_processes_racing_never_write_at_the_same_time(tmp_path):
    """Each process increments a counter file with a read-sleep-write; the lock keeps every increment."""
    warehouse = tmp_path / "serosurv.duckdb"
    counter = tmp_path / "counter"
    counter.write_text("0")
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from serosurv.core.lock import WarehouseBusy, warehouse_lock
        done = 0
        while done < 15:
            try:
                with warehouse_lock({str(warehouse)!r}):
                    n = int(Path({str(counter)!r}).read_text())
                    time.sleep(0.002)
                    Path({str(counter)!r}).write_text(str(n + 1))
                done += 1
            except WarehouseBusy:
                time.sleep(0.001)
        """
    )
    workers = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT) for _ in range(4)]
    deadline = time.monotonic() + 60
    for worker in workers:
        assert worker.wait(timeout=max(1, deadline - time.monotonic())) == 0
    assert int(counter.read_text()) == 60
    assert not lock_path(warehouse).exists()


def test_serosurv_run_on_a_locked_warehouse_waits_then_exits_2_with_the_holder(tmp_path):
    warehouse = tmp_path / "serosurv.duckdb"
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "claim_id,patient_id,fill_date,days_supply,drug_name\nC1,PATZ1,2025-01-01,30,sertraline\n"
    )
    config = tmp_path / "impatient.toml"
    config.write_text("[warehouse]\nbusy_timeout = 1\n")
    child = _hold_in_child(warehouse)
    try:
        env = os.environ | {"DO_NOT_TRACK": "1", "PREFECT_HOME": str(tmp_path / "prefect")}
        env.pop("SEROSURV_BUSY_TIMEOUT", None)
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "serosurv",
                "run",
                "--config",
                str(config),
                "--claims",
                str(claims),
                "--as-of",
                "2025-01-31",
                "--warehouse",
                str(warehouse),
                "--out",
                str(tmp_path / "out"),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
        )
        assert run.returncode == 2, run.stderr
        assert f"pid {child.pid}" in run.stderr and "Traceback" not in run.stderr
        assert "waiting up to 1 s for it ([warehouse] busy_timeout)" in run.stderr
        assert "or raise [warehouse] busy_timeout to wait longer." in run.stderr
        assert "PATZ" not in run.stderr
    finally:
        child.kill()
        child.wait()
