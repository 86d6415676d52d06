"""The Prefect API a night reports to (flows/prefect_api.py): the configured one, else a temporary server
that serosurv starts itself, with its database kept in the user's cache when PREFECT_HOME is not set.
Runs are real `serosurv run` processes, as a user runs them (each starts its own temporary server)."""

from __future__ import annotations

import ast
import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.test_cli_errors import ROOT, one_error_line

CLAIMS = "claim_id,patient_id,fill_date,days_supply,drug_name\nC1,PATZ1,2025-06-01,30,sertraline\n"


def _run(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    (tmp_path / "claims.csv").write_text(CLAIMS)
    return subprocess.run(
        [sys.executable, "-m", "serosurv", "run", "--claims", str(tmp_path / "claims.csv")]
        + ["--as-of", "2025-06-30", "--out", str(tmp_path / "out")]
        + ["--warehouse", str(tmp_path / "serosurv.duckdb")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


def _environment(**extra: str) -> dict[str, str]:
    """The user's environment without any Prefect setting (no PREFECT_HOME, no PREFECT_API_URL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return env | {"DO_NOT_TRACK": "1"} | extra


def _servers_of(home: Path) -> list[psutil.Process]:
    """Prefect API server processes whose PREFECT_HOME is `home`."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            command = " ".join(process.info["cmdline"] or ())
            server = "prefect.server.api.server:create_app" in command
            if server and process.environ().get("PREFECT_HOME") == str(home):
                found.append(process)
    return found


# Two nights in one process (`serosurv run` twice, as the Python API may run them), counting the
# temporary servers started.
TWO_NIGHTS = """
import sys
from flows import prefect_api
from serosurv.cli import main

starts, start = [], prefect_api.TemporaryServer.start
prefect_api.TemporaryServer.start = lambda server: starts.append(1) or start(server)
claims, out = sys.argv[1:]
codes = [
    main(["run", "--claims", claims, "--as-of", "2025-06-30", "--out", out, "--warehouse", f"{out}/{n}.duckdb"])
    for n in (1, 2)
]
print(codes, len(starts))
"""


def test_without_prefect_home_the_temporary_server_keeps_its_database_in_the_users_cache(tmp_path):
    """So that creating and migrating it is paid once, not by every night; and the user's own Prefect
    database (~/.prefect/prefect.db, which `prefect server start` uses) is never touched. The server's
    services that record task runs are off; the nights of one process share it; it is gone when the
    process ends."""
    import prefect

    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    (tmp_path / "claims.csv").write_text(CLAIMS)
    run = subprocess.run(
        [sys.executable, "-c", TWO_NIGHTS, str(tmp_path / "claims.csv"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=_environment(HOME=str(home), XDG_CACHE_HOME=str(cache)),
        cwd=ROOT,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("1 rows read, 1 accepted") == 2, run.stdout
    assert run.stdout.strip().splitlines()[-1] == "[0, 0] 1"  # two nights, one server
    kept = cache / "serosurv" / f"prefect-{prefect.__version__}"
    with sqlite3.connect(kept / "prefect.db") as db:
        assert db.execute("SELECT flow.name FROM flow_run JOIN flow ON flow.id = flow_id").fetchall() == [
            ("serosurv-nightly",),
            ("serosurv-nightly",),
        ]
        assert db.execute("SELECT count(*) FROM task_run").fetchone() == (0,)  # its recorder is off
    assert not (home / ".prefect" / "prefect.db").exists()
    assert not _servers_of(kept)


def test_a_configured_prefect_api_is_used_and_nothing_is_started(prefect_harness):
    from prefect.settings import PREFECT_API_URL

    from flows import prefect_api

    configured = PREFECT_API_URL.value()
    with prefect_api.prefect_api() as ready:
        ready()
        assert PREFECT_API_URL.value() == configured
    assert prefect_api._server is None


def test_a_temporary_server_that_stops_while_starting_is_reported_at_once(tmp_path):
    """Not after the start-up time (120 s) as a busy machine: its reason, from its own output, in one
    sentence; the night did not start."""
    env = _environment(
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{tmp_path}/claims.csv/prefect.db",
    )
    run = _run(tmp_path, env)
    assert run.returncode == 2, run.stderr
    line = one_error_line(run.stderr)
    assert line.startswith(
        "serosurv: error: Prefect's temporary API server stopped while starting (exit code 3: "
        "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) unable to open database file), so the "
        "night did not start and the warehouse is as it was"
    ), line
    assert not (tmp_path / "serosurv.duckdb").exists()


@pytest.mark.parametrize("configured", ["PREFECT_API_URL", "PREFECT_SERVER_EPHEMERAL_ENABLED"])
def test_the_temporary_server_is_started_only_when_prefect_would_start_one(tmp_path, configured):
    """An API URL (here in a Prefect profile, not the environment) is used as it is; with the temporary
    server turned off Prefect says so itself. Either way serosurv starts no server."""
    probe = (
        "from flows.prefect_api import prefect_api\n"
        "import flows.prefect_api as module\n"
        "with prefect_api() as ready:\n"
        "    ready()\n"
        "print(module._server is None)\n"
    )
    value = "http://127.0.0.1:9/api" if configured == "PREFECT_API_URL" else "false"
    (tmp_path / "profiles.toml").write_text(f'active = "mine"\n[profiles.mine]\n{configured} = "{value}"\n')
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=_environment(PREFECT_HOME=str(tmp_path)),
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    assert ast.literal_eval(done.stdout.strip()) is True
    assert not (tmp_path / "prefect.db").exists()
