"""The pharmacist's worklist: list alerts, one alert in full, record and export actions, the codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from serosurv.api.warehouse import reading, resolve, writing
from serosurv.core.config import busy_wait
from serosurv.core.lock import warehouse_lock
from serosurv.core.permissions import owner_only
from serosurv.core.warehouse import transaction


@dataclass(frozen=True)
class Worklist:
    """Alerts at their latest night, most dangerous first; `hidden` counts those left out because they
    were acted on or snoozed (ask with `include_all`)."""

    alerts: pl.DataFrame
    night: date | None
    hidden: int


@dataclass(frozen=True)
class AlertDetail:
    """One alert in full: its latest state, the fills of both drugs, its rule, its nights and its actions."""

    alert: dict[str, Any]
    fills: list[dict[str, Any]]
    rule: dict[str, Any]
    history: list[dict[str, Any]]
    actions: list[dict[str, Any]]


def list_alerts(
    warehouse: Path | str | None = None,
    statuses: list[str] | None = None,
    min_severity: str | None = None,
    include_all: bool = False,
) -> Worklist:
    """The worklist: by default the new, changed and ongoing alerts nobody acted on since they last
    changed (and not snoozed), and contraindicated ones resolved before anyone reviewed them; by
    severity, then priority, then status. `statuses` picks statuses exactly; `include_all` adds acted-on,
    snoozed and resolved alerts."""
    from transforms import alerts

    with reading(warehouse) as con:
        found = alerts.worklist(con, statuses, min_severity, include_all)
        night = alerts.latest_night(con)
        hidden = 0
        if not include_all:
            wanted = statuses or ["new", "changed", "ongoing"]
            hidden = sum(1 for a in alerts.worklist(con, wanted, min_severity, True) if a["quiet"])
    return Worklist(pl.DataFrame(found, infer_schema_length=None) if found else pl.DataFrame(), night, hidden)


def show_alert(alert_id: str, warehouse: Path | str | None = None) -> AlertDetail:
    """One alert (its id or a unique prefix of 6+ characters) in full."""
    from transforms import alerts

    with reading(warehouse) as con:
        detail = alerts.alert_detail(con, alert_id)
    return AlertDetail(**detail)


@owner_only()
def act(
    alert_id: str,
    *,
    action: str,
    operator: str,
    result: str | None = None,
    response: str | None = None,
    note: str | None = None,
    snooze_until: date | None = None,
    warehouse: Path | str | None = None,
    acted_at: datetime | None = None,
) -> dict[str, Any]:
    """Record what was done about an alert (NCPDP professional service and result codes, RetroDUR
    response); the alert stays off the worklist until it changes or `snooze_until`. Returns the action
    as stored."""
    from transforms import alerts

    target = resolve(warehouse)
    with warehouse_lock(target, "alerts act", busy_wait()), writing(target) as con, transaction(con):
        return alerts.record_action(
            con,
            alert_id,
            action=action,
            operator=operator,
            result=result,
            response=response,
            note=note,
            snooze_until=snooze_until,
            acted_at=acted_at,
        )


@owner_only()
def export_actions(out: Path | str, warehouse: Path | str | None = None) -> int:
    """Write every recorded action, oldest first, with the meaning of its codes, to a CSV file; the count."""
    from transforms import alerts

    with reading(warehouse) as con:
        fields, rows = alerts.exported_actions(con)
    return alerts.write_actions_csv(fields, rows, Path(out))


def action_codes() -> pl.DataFrame:
    """The codes `act` accepts (rules/alert_vocabularies.csv): vocabulary, code, label, source."""
    from serosurv.core.vocabularies import ACTION_VOCABULARIES, load_vocabularies

    return pl.DataFrame(
        [
            {"vocabulary": v, "title": title, "code": c.code, "label": c.label, "source": c.source}
            for v, title in ACTION_VOCABULARIES.items()
            for c in load_vocabularies()[v].values()
        ]
    )
