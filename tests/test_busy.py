"""A busy warehouse is waited for, with real processes holding it: DuckDB's file lock (any open connection,
read-only included, keeps a writer out; a writer keeps readers out) and serosurv's own write lock.

The holders here keep the warehouse until the test lets them go, which it does when the waiting command
has logged who holds it: no test depends on how long anything takes."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import pytest

from serosurv import api
from serosurv.core import lock
from serosurv.core.config import BUSY_TIMEOUT_ENV, BusyWait, Config, busy_wait, load_config
from serosurv.core.errors import SerosurvError
from serosurv.core.lock import WarehouseBusy, warehouse_lock
from serosurv.core.warehouse import connect, open_existing

ROOT = Path(__file__).resolve().parents[1]
PATIENT = "PATZ0001"  # the patient id written here: easy to find in a message or a log line


# ---------------------------------------------------------------------------- holders and the log


def _hold(warehouse: Path, how: str) -> subprocess.Popen:
    """Another process that holds the warehouse (`how`: "read" a read-only DuckDB connection, "write" a
    read-write one, "lock" serosurv's write lock) until its stdin is closed; it says "held" once it does."""
    take = {
        "read": f"import duckdb; con = duckdb.connect({str(warehouse)!r}, read_only=True)",
        "write": f"import duckdb; con = duckdb.connect({str(warehouse)!r})",
        "lock": "from serosurv.core.lock import warehouse_lock; "
        f"held = warehouse_lock({str(warehouse)!r}, command='run'); held.__enter__()",
    }[how]
    code = textwrap.dedent(
        f"""
        import sys
        {take}
        print("held", flush=True)
        sys.stdin.read()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    assert child.stdout.readline().strip() == "held"
    return child


def _let_go(child: subprocess.Popen) -> None:
    if child.stdin and not child.stdin.closed:
        child.stdin.close()


class _Log(logging.Handler):
    """serosurv's log lines; lets the holder go at the first line that contains `release_on`."""

    def __init__(self, holder: subprocess.Popen | None = None, release_on: str = "") -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.holder, self.release_on = holder, release_on

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        self.lines.append(line)
        if self.holder and self.release_on and self.release_on in line:
            _let_go(self.holder)


@pytest.fixture
def serosurv_log():
    """Attach a _Log to the `serosurv` logger (directly: the CLI's tests may have stopped propagation)."""
    logger = logging.getLogger("serosurv")
    attached: list[_Log] = []
    level = logger.level
    logger.setLevel(logging.INFO)

    def attach(holder: subprocess.Popen | None = None, release_on: str = "") -> _Log:
        handler = _Log(holder, release_on)
        logger.addHandler(handler)
        attached.append(handler)
        return handler

    yield attach
    for handler in attached:
        logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture(autouse=True)
def _no_wait_from_the_environment(monkeypatch):
    monkeypatch.delenv(BUSY_TIMEOUT_ENV, raising=False)


@pytest.fixture
def holders():
    started: list[subprocess.Popen] = []
    yield started
    for child in started:
        child.kill()
        child.wait()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _claims(tmp_path: Path) -> Path:
    path = tmp_path / "claims.csv"
    path.write_text(
        "claim_id,patient_id,fill_date,days_supply,drug_name,prescriber_id,pharmacy_id\n"
        f"C1,{PATIENT},2025-01-02,30,sertraline,PR1,PH1\n"
        f"C2,{PATIENT},2025-01-10,30,tramadol,PR2,PH1\n",
        encoding="utf-8",
    )
    return path


def _config(tmp_path: Path, seconds: float) -> Path:
    path = tmp_path / "busy.toml"
    path.write_text(f"[warehouse]\nbusy_timeout = {seconds}\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- the setting


def test_busy_timeout_is_read_overridden_by_the_environment_and_left_out_of_the_hash(tmp_path, monkeypatch):
    assert Config().warehouse.busy_timeout == 600
    config = load_config(_config(tmp_path, 5))
    assert busy_wait(config) == BusyWait(5.0, "[warehouse] busy_timeout")
    assert config.hash == Config().hash  # how long commands wait changes no result
    assert busy_wait() == BusyWait(600.0, BUSY_TIMEOUT_ENV)  # commands without --config
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "2.5")
    assert busy_wait(config) == BusyWait(2.5, BUSY_TIMEOUT_ENV)
    for bad in ("soon", "-1", "nan", "inf"):
        monkeypatch.setenv(BUSY_TIMEOUT_ENV, bad)
        with pytest.raises(SerosurvError, match="SEROSURV_BUSY_TIMEOUT must be a number of seconds"):
            busy_wait()
    (tmp_path / "neg.toml").write_text("[warehouse]\nbusy_timeout = -1\n")
    with pytest.raises(SerosurvError, match="'warehouse.busy_timeout' must not be negative"):
        load_config(tmp_path / "neg.toml")


# ---------------------------------------------------------------------------- (a) (b) a night and a reader


def test_a_night_waits_for_a_reader_to_close_the_warehouse_and_logs_who_held_it(
    prefect_harness, tmp_path, serosurv_log, holders
):
    warehouse = tmp_path / "serosurv.duckdb"
    connect(warehouse).close()
    reader = _hold(warehouse, "read")
    holders.append(reader)
    log = serosurv_log(reader, release_on="waiting up to")
    night = api.run(
        [_claims(tmp_path)],
        config_file=_config(tmp_path, 60),
        warehouse=warehouse,
        out_dir=tmp_path / "out",
        as_of=date(2025, 1, 31),
    )
    assert night.counts["rows_accepted"] == 2
    (waited,) = [line for line in log.lines if "waiting up to" in line]  # said once
    assert re.fullmatch(
        rf"the warehouse {re.escape(str(warehouse))} is in use by \S+ \(pid {reader.pid}\); "
        r"waiting up to 60 s for it \(\[warehouse\] busy_timeout\)",
        waited,
    ), waited
    assert not any(PATIENT in line for line in log.lines)


def test_a_night_stops_with_one_sentence_when_the_warehouse_stays_in_use_and_leaves_it_unchanged(
    prefect_harness, tmp_path, serosurv_log, holders
):
    warehouse = tmp_path / "serosurv.duckdb"
    connect(warehouse).close()
    before = _digest(warehouse)
    reader = _hold(warehouse, "read")  # never lets go
    holders.append(reader)
    log = serosurv_log()
    with pytest.raises(WarehouseBusy) as stopped:
        api.run(
            [_claims(tmp_path)],
            config_file=_config(tmp_path, 1),
            warehouse=warehouse,
            out_dir=tmp_path / "out",
            as_of=date(2025, 1, 31),
        )
    assert re.fullmatch(
        rf"The warehouse {re.escape(str(warehouse))} is still in use by \S+ \(pid {reader.pid}\) after "
        r"waiting 1 s; run again once that program has closed it, or raise \[warehouse\] busy_timeout to "
        r"wait longer\.",
        str(stopped.value),
    ), str(stopped.value)
    assert stopped.value.exit_code == 2 and PATIENT not in str(stopped.value)
    assert any(f"(pid {reader.pid}); waiting up to 1 s" in line for line in log.lines)
    reader.kill()
    reader.wait()
    assert _digest(warehouse) == before and not warehouse.with_name(warehouse.name + ".wal").exists()
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- (c) readers and a writer


def test_a_reader_waits_for_a_writer_to_close_the_warehouse(tmp_path, serosurv_log, holders, monkeypatch):
    warehouse = tmp_path / "serosurv.duckdb"
    connect(warehouse).close()
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "60")
    writer = _hold(warehouse, "write")
    holders.append(writer)
    log = serosurv_log(writer, release_on="waiting up to")
    assert api.query("select count(*) as n from runs", warehouse).item() == 0
    (waited,) = log.lines
    assert re.fullmatch(
        rf"the warehouse {re.escape(str(warehouse))} is in use by \S+ \(pid {writer.pid}\); "
        r"waiting up to 60 s for it \(SEROSURV_BUSY_TIMEOUT\)",
        waited,
    ), waited


def test_a_reader_kept_out_stops_with_one_sentence_and_exit_2(tmp_path, holders):
    warehouse = tmp_path / "serosurv.duckdb"
    connect(warehouse).close()
    writer = _hold(warehouse, "write")  # never lets go
    holders.append(writer)
    env = os.environ | {BUSY_TIMEOUT_ENV: "1", "DO_NOT_TRACK": "1"}
    listed = subprocess.run(
        [sys.executable, "-m", "serosurv", "alerts", "list", "--warehouse", str(warehouse)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert listed.returncode == 2, listed.stderr
    *waiting, error = listed.stderr.strip().splitlines()
    assert len(waiting) == 1 and re.fullmatch(
        rf"serosurv: the warehouse {re.escape(str(warehouse))} is in use by \S+ \(pid {writer.pid}\); "
        r"waiting up to 1 s for it \(SEROSURV_BUSY_TIMEOUT\)",
        waiting[0],
    ), waiting
    assert re.fullmatch(
        rf"serosurv: error: The warehouse {re.escape(str(warehouse))} is still in use by \S+ "
        rf"\(pid {writer.pid}\) after waiting 1 s; run again once that program has closed it, or raise "
        r"SEROSURV_BUSY_TIMEOUT to wait longer\.",
        error,
    ), error


def test_without_a_wait_a_held_warehouse_is_refused_at_once_with_the_setting(tmp_path, holders):
    warehouse = tmp_path / "serosurv.duckdb"
    connect(warehouse).close()
    writer = _hold(warehouse, "write")
    holders.append(writer)
    with pytest.raises(WarehouseBusy) as refused:
        open_existing(warehouse, read_only=True)
    assert str(refused.value).endswith(
        f"(pid {writer.pid}); run again once that program has closed it, or set [warehouse] busy_timeout "
        "to wait for it."
    )


# ---------------------------------------------------------------------------- (d) serosurv's write lock


def test_a_writer_waits_for_serosurvs_write_lock_and_says_so_again_while_it_waits(
    tmp_path, serosurv_log, holders, monkeypatch
):
    warehouse = tmp_path / "serosurv.duckdb"
    monkeypatch.setattr(lock, "SAY_AGAIN_EVERY", 0.0)  # "still waiting" at the next attempt
    night = _hold(warehouse, "lock")
    holders.append(night)
    log = serosurv_log(night, release_on="still waiting")
    with warehouse_lock(warehouse, "alerts act", BusyWait(60, "[warehouse] busy_timeout")):
        assert lock.holder(warehouse)["pid"] == str(os.getpid())
    first, again = log.lines[:2]
    assert re.fullmatch(
        rf"the warehouse {re.escape(str(warehouse))} is being written by serosurv run "
        rf"\(pid {night.pid} on \S+, since \S+\); waiting up to 60 s for it \(\[warehouse\] busy_timeout\)",
        first,
    ), first
    assert again.startswith(
        f"still waiting for the warehouse {warehouse}, being written by serosurv run (pid {night.pid} on "
    ), again


def test_a_writer_kept_out_of_serosurvs_write_lock_stops_with_one_sentence(tmp_path, holders):
    warehouse = tmp_path / "serosurv.duckdb"
    night = _hold(warehouse, "lock")
    holders.append(night)
    with pytest.raises(WarehouseBusy) as stopped, warehouse_lock(warehouse, "alerts act", BusyWait(1, "X")):
        pass
    assert re.fullmatch(
        rf"The warehouse {re.escape(str(warehouse))} is still being written by serosurv run "
        rf"\(pid {night.pid} on \S+, since \S+\) after waiting 1 s; run again once it has finished \(one "
        r"writer at a time keeps nights whole\), or raise X to wait longer\.",
        str(stopped.value),
    ), str(stopped.value)


# ---------------------------------------------------------------------------- readers let go before writing


def test_reports_and_exports_close_the_warehouse_before_they_render_or_write(
    prefect_harness, tmp_path, monkeypatch
):
    """While a report renders or a file is written, this process has no connection to the warehouse
    open: a read-write connection (what a night needs) opens at that moment."""
    import reports.dashboard
    import reports.prevalence
    from transforms import alerts

    warehouse = tmp_path / "serosurv.duckdb"
    api.run([_claims(tmp_path)], warehouse=warehouse, out_dir=tmp_path / "out", as_of=date(2025, 1, 31))
    checked: list[str] = []

    def closed(name, real):
        def check(*args, **kwargs):
            duckdb.connect(str(warehouse)).close()  # refused while a read-only connection is open here
            checked.append(name)
            return real(*args, **kwargs)

        return check

    monkeypatch.setattr(
        reports.dashboard, "render_dashboard", closed("dashboard", reports.dashboard.render_dashboard)
    )
    monkeypatch.setattr(
        reports.prevalence, "summary_html", closed("prevalence", reports.prevalence.summary_html)
    )
    monkeypatch.setattr(alerts, "write_actions_csv", closed("actions", alerts.write_actions_csv))
    api.dashboard(date(2025, 1, 1), date(2025, 1, 31), tmp_path / "d.html", warehouse=warehouse)
    api.prevalence(tmp_path / "p.csv", warehouse=warehouse)
    api.export_actions(tmp_path / "a.csv", warehouse=warehouse)
    assert checked == ["dashboard", "prevalence", "actions"]
