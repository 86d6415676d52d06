"""Alerts: tonight's statuses appended to `alert_history`, and `alerts` kept at each alert's latest state."""

from __future__ import annotations

from datetime import date

import duckdb

from serosurv.config import AlertConfig
from serosurv.warehouse import rows
from transforms.sql import sql_text


def update_alerts(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, settings: AlertConfig
) -> dict[str, int]:
    """Classify tonight's alerts; rerunning a night replaces that night's statuses instead of adding to them."""
    params = {"as_of": as_of, "lookback_days": settings.lookback_days}
    con.execute("DELETE FROM alert_history WHERE as_of = $as_of", {"as_of": as_of})
    con.execute(
        "INSERT INTO alert_history BY NAME SELECT $as_of AS as_of, $run_id AS run_id, tonight.* "
        f"FROM ({sql_text('marts/alerts_tonight.sql')}) AS tonight",
        {**params, "run_id": run_id},
    )
    tonight = "SELECT alert_id FROM alert_history WHERE as_of = $as_of"
    con.execute(
        "UPDATE alerts SET status = 'resolved', as_of = $as_of, priority = 0 "
        f"WHERE alert_id IN ({tonight} AND status = 'resolved')",
        {"as_of": as_of},
    )
    con.execute(
        f"DELETE FROM alerts WHERE alert_id IN ({tonight} AND status <> 'resolved')", {"as_of": as_of}
    )
    con.execute(
        """
        INSERT INTO alerts BY NAME
        SELECT
            h.alert_id, i.patient_id, i.ingredient_a, i.ingredient_b, i.rule_id, h.severity,
            h.priority, h.status,
            coalesce(first_seen.run_id, h.run_id) AS first_seen_run, h.run_id AS last_seen_run,
            i.kind, i.first_overlap_date, i.last_overlap_date, i.overlap_days, i.cross_prescriber,
            i.cross_pharmacy, h.as_of
        FROM alert_history AS h
        INNER JOIN interactions AS i ON i.interaction_id = h.alert_id
        LEFT JOIN (
            SELECT alert_id, arg_min(run_id, as_of) AS run_id FROM alert_history GROUP BY alert_id
        ) AS first_seen ON first_seen.alert_id = h.alert_id
        WHERE h.as_of = $as_of AND h.status <> 'resolved'
        """,
        {"as_of": as_of},
    )
    return {
        f"alerts_{status}": n
        for status, n in rows(
            con,
            "SELECT status, count(*) FROM alert_history WHERE as_of = $as_of GROUP BY ALL",
            {"as_of": as_of},
        )
    }
