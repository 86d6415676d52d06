"""A back-fill builds the worklist night by night, exactly as running those nights one after another."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

from serosurv import api
from serosurv.core.config import Config
from serosurv.core.rules import load_rules
from serosurv.core.warehouse import connect
from transforms import alerts, engine

FIRST, LAST = date(2025, 12, 20), date(2025, 12, 31)

HISTORY = "SELECT as_of, alert_id, status, severity FROM alert_history ORDER BY ALL"


def test_backfill_equals_nights_run_in_order(prefect_harness, generated, tmp_path):
    result = api.run(
        [generated["claims"]],
        out_dir=tmp_path / "backfill",
        warehouse=Path(tmp_path / "backfill") / "serosurv.duckdb",
        as_of=LAST,
        backfill_from=FIRST,
    )
    assert result.counts["backfilled_nights"] == (LAST - FIRST).days
    con = duckdb.connect(str(tmp_path / "backfill" / "serosurv.duckdb"), read_only=True)
    backfilled = con.execute(HISTORY).fetchall()
    con.close()

    # The same nights, one at a time, on a copy of the loaded claims.
    import shutil

    shutil.copy(tmp_path / "backfill" / "serosurv.duckdb", tmp_path / "stepwise.duckdb")
    step = connect(tmp_path / "stepwise.duckdb")
    step.execute("DELETE FROM alert_history")
    step.execute("DELETE FROM alerts")
    config = Config()
    engine.register_rules(step, load_rules().pair_table())
    night = FIRST
    while night <= LAST:
        engine.build_episodes(step, night, config.episodes)
        engine.find_interactions(step, config.interactions, config.episodes)
        alerts.update_alerts(step, f"step-{night}", night, config.alerts)
        night += timedelta(days=1)
    stepwise = step.execute(HISTORY).fetchall()
    step.close()

    assert len({row[0] for row in backfilled}) == (LAST - FIRST).days + 1
    assert {row[2] for row in backfilled} >= {"new", "ongoing", "resolved"}
    assert backfilled == stepwise
