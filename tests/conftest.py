"""Shared fixtures: a fresh warehouse per test, a Prefect test harness once per session, generated data."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# Prefect keeps its database and settings under PREFECT_HOME: tests get their own, never the user's.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="serosurv-test-prefect-")

SHARED = Path(__file__).resolve().parents[2] / "shared"


def query(warehouse: Path | str, sql: str, params: dict | None = None) -> list[tuple]:
    """Rows of `sql` on a warehouse file a night wrote, opened read-only and closed again."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


@pytest.fixture
def warehouse(tmp_path):
    from serosurv.core.warehouse import connect

    con = connect(tmp_path / "test.duckdb")
    yield con
    con.close()


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect API for the whole session (starting one costs ~8 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """A small generated population shared by the end-to-end tests."""
    from transforms.synthetic import generate

    return generate(tmp_path_factory.mktemp("generated"), 1500, seed=7)


def write_csv(path: Path, header: str, *lines: str) -> Path:
    path.write_text("\n".join((header, *lines)) + "\n", encoding="utf-8")
    return path


def pytest_collection_modifyitems(config, items):
    """Tests marked slow are opt-in: they run only when `-m` names them (e.g. `-m slow`)."""
    if "slow" in (config.getoption("markexpr", default="") or ""):
        return
    skip = pytest.mark.skip(reason="long-running; run with -m slow")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)
