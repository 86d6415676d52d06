"""Alerts that remember: identity and status across nights, the pharmacist's actions, the worklist.

A night (`update_alerts`) turns tonight's current interactions into alert states, one row per alert in
`alert_history` (keyed by night), and rebuilds `alerts` (each alert's latest state and latest action).
The rules are in sql/marts/alert_history.sql; in short:

* Identity. A current interaction continues an open alert of the same patient and ingredient pair when
  their windows overlap or lie within `merge_gap_days` of each other, whatever its kind or first date:
  a backdated claim that moves the first overlap date, or a washout that turns into an overlap, keeps
  the alert id. Resolved alerts never reopen; a later recurrence is a new alert with a new id.
* Status. new, ongoing, changed (severity raised, a prescriber or pharmacy new to the alert, washout
  became overlap, overlap grew by `overlap_growth_days` since the alert was last new or changed),
  resolved (open last night, no current interaction tonight). `status_reasons` says why.
* Reruns and order. Each night's rows are replaced, never added to. Every row keeps `snapshot`, the
  interactions that were current that night, so when a night is (re)computed every later night already
  in the warehouse is recomputed from its own snapshot, in date order: running nights out of order, or
  rerunning one, gives the same history as running them in order, and never duplicates or loses an
  alert. A backfill runs its nights in date order (`backfill_night`) and replays later nights once.
* Actions (`record_action`) are kept in `alert_actions` with operator and time. An alert is quiet (off
  the default worklist) when its latest action came on or after the night it was last new or changed,
  until its snooze date, if any, is reached by a night.
"""

from __future__ import annotations

import csv
import json
import uuid
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from serosurv.core.config import AlertConfig, EpisodeConfig, PriorityWeights
from serosurv.core.errors import SerosurvError
from serosurv.core.severity import SEVERITY_RANK as SEVERITIES
from serosurv.core.severity import clinical_significance
from serosurv.core.vocabularies import check_code, label
from serosurv.core.warehouse import has_table
from transforms.catalog import CATALOG_COLUMNS
from transforms.runs import latest_success
from transforms.sql import (
    create_macros,
    create_table,
    fetch,
    fetch_dicts,
    fetch_frame,
    fetch_one,
    fetch_value,
    insert_into,
    replace_rows,
    run,
)

DEFAULT_OVERLAP_GROWTH_DAYS = 30  # config key alerts.overlap_growth_days
DEFAULT_MERGE_GAP_DAYS = 30  # config key interactions.merge_gap_days
STATUSES = ("new", "changed", "ongoing", "resolved")


# ---------------------------------------------------------------------------- nights


def update_alerts(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    settings: AlertConfig,
    *,
    overlap_growth_days: int | None = None,
    merge_gap_days: int = DEFAULT_MERGE_GAP_DAYS,
    replay_later: bool = True,
) -> dict[str, int]:
    """Classify the night `as_of` from the `interactions` just built; returns {"alerts_<status>": n}.

    Rerunning a night replaces its rows. With `replay_later`, nights after `as_of` already in the
    warehouse are then recomputed from their snapshots, in order (a backfill passes False for all but
    its last night: see `backfill_night`). `overlap_growth_days` defaults to
    `settings.overlap_growth_days` when the configuration has it, else 30.
    """
    growth = _growth_days(settings, overlap_growth_days)
    _adopt_legacy_history(con)
    create_table(
        con,
        "alert_candidates",
        "marts/alert_candidates.sql",
        {"as_of": as_of, "lookback_days": settings.lookback_days},
        temp=True,
    )
    weights = asdict(getattr(settings, "priority", PriorityWeights()))
    _classify_night(con, run_id, as_of, growth, merge_gap_days, weights)
    if replay_later:
        _replay_after(con, as_of, growth, merge_gap_days, weights)
    refresh_alerts(con)
    return {
        f"alerts_{status}": n
        for status, n in fetch(con, "analyses/alert_status_counts.sql", {"as_of": as_of})
    }


def backfill_night(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    settings: AlertConfig,
    *,
    last_night: date,
    overlap_growth_days: int | None = None,
    merge_gap_days: int = DEFAULT_MERGE_GAP_DAYS,
) -> dict[str, int]:
    """One night of a backfill that the caller runs in date order up to `last_night`.

    Nights inside the backfill are about to be recomputed anyway, so only the last one replays the
    nights after it that are already in the warehouse (once, instead of after every night)."""
    return update_alerts(
        con,
        run_id,
        as_of,
        settings,
        overlap_growth_days=overlap_growth_days,
        merge_gap_days=merge_gap_days,
        replay_later=as_of >= last_night,
    )


def _growth_days(settings: AlertConfig, given: int | None) -> int:
    if given is not None:
        return int(given)
    return int(getattr(settings, "overlap_growth_days", DEFAULT_OVERLAP_GROWTH_DAYS))


def _classify_night(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    growth: int,
    merge_gap_days: int,
    weights: dict[str, float],
) -> None:
    """Replace the night's rows with its classification of the temp table `alert_candidates`."""
    con.execute("delete from alert_history where as_of = $as_of", {"as_of": as_of})
    insert_into(
        con,
        "alert_history",
        "marts/alert_history.sql",
        {
            "as_of": as_of,
            "run_id": run_id,
            "merge_gap_days": merge_gap_days,
            "overlap_growth_days": growth,
            "clinical_significance": [code for _, code in sorted(clinical_significance().items())],
            "weights": weights,
        },
    )


def _replay_after(
    con: duckdb.DuckDBPyConnection, night: date, growth: int, merge_gap_days: int, weights: dict[str, float]
) -> None:
    """Recompute every later night already in the warehouse from its own snapshot, in date order.

    Later nights are those in `alert_history` or with a successful run. Nights written before
    snapshots existed (an open alert without one) are left as they were."""
    for later in fetch_dicts(con, "analyses/alert_nights_after.sql", {"night": night}):
        if later["before_snapshots"]:
            continue
        create_table(
            con,
            "alert_candidates",
            "marts/alert_candidates__replayed.sql",
            {"as_of": later["as_of"]},
            temp=True,
        )
        run_id = later["run_id"] or f"replay-{later['as_of']}"
        _classify_night(con, run_id, later["as_of"], growth, merge_gap_days, weights)


def refresh_alerts(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild `alerts`: every alert at its latest night, with its latest action and whether it is quiet."""
    replace_rows(con, "alerts", "marts/alerts.sql")


def _adopt_legacy_history(con: duckdb.DuckDBPyConnection) -> None:
    """History rows written before alerts kept their state get it from `alerts` (latest state only)."""
    if not fetch_value(con, "analyses/legacy_history_rows.sql"):
        return
    # list_position gives rank 1 to the first severity: lowest rank first.
    run(con, "marts/alert_history__adopt_legacy.sql", {"levels": sorted(SEVERITIES, key=SEVERITIES.get)})


# ---------------------------------------------------------------------------- vocabularies and actions


def resolve_alert_id(con: duckdb.DuckDBPyConnection, text: str) -> str:
    """The full alert id for an id or an unambiguous prefix of at least 6 characters."""
    wanted = text.strip().lower()
    found = [found["alert_id"] for found in fetch_dicts(con, "analyses/alert_lookup.sql", {"id": wanted})]
    if wanted in found:
        return wanted
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise SerosurvError(
            f"Alert id '{text}' is ambiguous ({len(found)} alerts start with it); give more of it."
        )
    raise SerosurvError(
        f"There is no alert '{text}' in this warehouse (serosurv alerts list --all shows them)."
    )


def record_action(
    con: duckdb.DuckDBPyConnection,
    alert_id: str,
    *,
    action: str,
    operator: str,
    result: str | None = None,
    response: str | None = None,
    note: str | None = None,
    snooze_until: date | None = None,
    acted_at: datetime | None = None,
) -> dict[str, Any]:
    """Keep one action on an alert (validated against the vocabularies); returns the stored row."""
    action_code = check_code("professional_service", action)
    result_code = check_code("result_of_service", result)
    response_code = check_code("retrodur_response", response)
    if not operator or not operator.strip():
        raise SerosurvError("--operator must name who took the action.")
    alert_id = resolve_alert_id(con, alert_id)
    night, status = fetch(con, "analyses/alert_lookup.sql", {"id": alert_id})[0][1:]
    if snooze_until is not None and snooze_until <= night:
        raise SerosurvError(
            f"--snooze-until {snooze_until} must be after the alert's latest night ({night}); "
            "the alert comes back on the first night on or after that date."
        )
    stored = {
        "action_id": uuid.uuid4().hex[:16],
        "alert_id": alert_id,
        "acted_at": acted_at or datetime.now().replace(microsecond=0),
        "operator": operator.strip(),
        "night": night,
        "status_at_action": status,
        "action_code": action_code,
        "result_code": result_code,
        "response": response_code,
        "note": note,
        "snooze_until": snooze_until,
    }
    run(con, "marts/alert_actions__record.sql", stored)
    refresh_alerts(con)
    return stored


def exported_actions(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[dict[str, Any]]]:
    """Every action, oldest first, with the meaning of its codes and the alert's patient and pair: the
    columns of the export and its rows, in memory (the caller can close the warehouse before writing)."""
    actions = fetch_frame(con, "analyses/alert_actions_export.sql")
    names, records = actions.columns, actions.rows(named=True)
    fields = [
        *names[:11],
        "action_label",
        "result_code",
        "result_label",
        "response",
        "response_label",
        "snooze_until",
        "note",
    ]
    rows = [
        {
            **record,
            "action_label": label("professional_service", record["action_code"]),
            "result_label": label("result_of_service", record["result_code"]),
            "response_label": label("retrodur_response", record["response"]),
        }
        for record in records
    ]
    return fields, rows


def write_actions_csv(fields: list[str], rows: list[dict[str, Any]], out: Path) -> int:
    """The rows of `exported_actions` as a CSV file; the count."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


# ---------------------------------------------------------------------------- worklist and detail


def worklist(
    con: duckdb.DuckDBPyConnection,
    statuses: list[str] | None = None,
    min_severity: str | None = None,
    include_all: bool = False,
    unreviewed_min_rank: int | None = None,
) -> list[dict[str, Any]]:
    """Alerts for the pharmacist, the most dangerous first: by severity, then priority, then status
    (new and changed before ongoing).

    Default: open alerts (new, changed, ongoing) that are not quiet, and resolved alerts of severity rank
    `unreviewed_min_rank` or more (4: contraindicated; 0: none) that nobody ever acted on ("resolved, never
    reviewed"; by default the `alerts.keep_unreviewed_resolved` setting of the latest night). `statuses`
    picks the statuses exactly; `include_all` adds quiet alerts and, without `statuses`, every resolved one."""
    if unreviewed_min_rank is None:
        unreviewed_min_rank = unreviewed_rank(con)
    explicit = bool(statuses)
    if statuses:
        unknown = [s for s in statuses if s not in STATUSES]
        if unknown:
            raise SerosurvError(f"'{unknown[0]}' is not an alert status; use {', '.join(STATUSES)}.")
    else:
        statuses = list(STATUSES) if include_all else ["new", "changed", "ongoing"]
    rank = 0
    if min_severity is not None:
        rank = SEVERITIES.get(min_severity.strip().lower(), 0)
        if not rank:
            raise SerosurvError(f"'{min_severity}' is not a severity; use {', '.join(SEVERITIES)}.")
    unreviewed = unreviewed_min_rank if not explicit and not include_all else 0
    return fetch_dicts(
        con,
        "analyses/alert_worklist.sql",
        {
            "statuses": statuses,
            "rank": rank,
            "all": include_all,
            "unreviewed": unreviewed,
            "keep": unreviewed_min_rank,
        },
    )


def latest_night(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest night with alert states (the night the worklist shows), None before the first."""
    return fetch_one(con, "analyses/latest_alert_night.sql")["night"]


def _night_settings(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The configuration the latest successful night ran with (runs.parameters), {} before the first."""
    latest = latest_success(con)
    return json.loads(latest["parameters"] or "{}") if latest else {}


def unreviewed_rank(con: duckdb.DuckDBPyConnection) -> int:
    """`alerts.keep_unreviewed_resolved` of the latest successful night, as a severity rank (0: off)."""
    settings = _night_settings(con).get("alerts", {})
    return AlertConfig(
        **{k: v for k, v in settings.items() if k == "keep_unreviewed_resolved"}
    ).unreviewed_min_rank


def alert_detail(con: duckdb.DuckDBPyConnection, alert_id: str) -> dict[str, Any]:
    """Everything `alerts show` prints: the alert, its fills, its rule, its history and actions."""
    alert_id = resolve_alert_id(con, alert_id)
    alert = fetch_one(con, "analyses/alert.sql", {"id": alert_id})
    create_macros(con, "supply_end", "ongoing_end")
    episode_settings = _night_settings(con).get("episodes", {})
    fills = fetch_dicts(
        con,
        "analyses/alert_fills.sql",
        {
            "patient": alert["patient_id"],
            "a": alert["ingredient_a"],
            "b": alert["ingredient_b"],
            "night": alert["as_of"],
            "claims_a": alert["claim_ids_a"] or [],
            "claims_b": alert["claim_ids_b"] or [],
            "since": date.fromordinal(alert["first_overlap_date"].toordinal() - 180),
            "omop_end": episode_settings.get("end_convention") == "omop",
            "ongoing_max_days": EpisodeConfig(
                **{k: v for k, v in episode_settings.items() if k == "ongoing_max_days"}
            ).ongoing_max_days,
        },
    )
    history = fetch_dicts(con, "analyses/alert_nights.sql", {"id": alert_id})
    actions = fetch_dicts(con, "analyses/alert_actions_of_alert.sql", {"id": alert_id})
    return {
        "alert": alert,
        "fills": fills,
        "rule": _rule(con, alert["rule_id"]),
        "history": history,
        "actions": actions,
    }


def _rule(con: duckdb.DuckDBPyConnection, rule_id: str | None) -> dict[str, Any]:
    """The rule from the warehouse's rules_catalog (the rules the nights used), else from rules/."""
    if rule_id is None:
        return {}
    if has_table(con, "rules_catalog"):
        found = fetch_one(con, "analyses/rule.sql", {"rule_id": rule_id})
        if found:
            return found
    from serosurv.core.rules import load_rules

    for rule in load_rules(include_related=True).rules:
        if rule.rule_id == rule_id:
            return {key: getattr(rule, key) for key in CATALOG_COLUMNS}
    return {"rule_id": rule_id}


def to_json(records: list[dict[str, Any]]) -> str:
    return json.dumps(records, default=str, indent=2)
