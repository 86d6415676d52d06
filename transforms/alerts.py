"""Alerts that remember: identity and status across nights, the pharmacist's actions, the worklist.

A night (`update_alerts`) turns tonight's current interactions into alert states, one row per alert in
`alert_history` (keyed by night), and rebuilds `alerts` (each alert's latest state and latest action).
The rules are in sql/marts/alerts_tonight.sql; in short:

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

from serosurv.core.config import AlertConfig, PriorityWeights
from serosurv.core.errors import SerosurvError
from serosurv.core.severity import SEVERITY_RANK as SEVERITIES
from serosurv.core.severity import clinical_significance
from serosurv.core.vocabularies import check_code, label
from serosurv.core.warehouse import rows, scalar
from transforms.runs import latest_success
from transforms.sql import sql_text

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
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE alert_candidates AS {sql_text('marts/alerts_candidates.sql')}",
        {"as_of": as_of, "lookback_days": settings.lookback_days},
    )
    weights = asdict(getattr(settings, "priority", PriorityWeights()))
    _classify_night(con, run_id, as_of, growth, merge_gap_days, weights)
    if replay_later:
        _replay_after(con, as_of, growth, merge_gap_days, weights)
    refresh_alerts(con)
    return {
        f"alerts_{status}": n
        for status, n in rows(
            con,
            "SELECT status, count(*) FROM alert_history WHERE as_of = $as_of GROUP BY ALL ORDER BY ALL",
            {"as_of": as_of},
        )
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
        con, run_id, as_of, settings, overlap_growth_days=overlap_growth_days,
        merge_gap_days=merge_gap_days, replay_later=as_of >= last_night,
    )  # fmt: skip


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
    con.execute("DELETE FROM alert_history WHERE as_of = $as_of", {"as_of": as_of})
    con.execute(
        f"INSERT INTO alert_history BY NAME {sql_text('marts/alerts_tonight.sql')}",
        {
            "as_of": as_of,
            "run_id": run_id,
            "merge_gap_days": merge_gap_days,
            "overlap_growth_days": growth,
            "clinical_significance": [code for _, code in sorted(clinical_significance().items())],
            "weights": weights,
        },  # fmt: skip
    )


def _replay_after(
    con: duckdb.DuckDBPyConnection, night: date, growth: int, merge_gap_days: int, weights: dict[str, float]
) -> None:
    """Recompute every later night already in the warehouse from its own snapshot, in date order.

    Later nights are those in `alert_history` or with a successful run. Nights written before
    snapshots existed (an open alert without one) are left as they were."""
    later = rows(
        con,
        """
        SELECT as_of FROM alert_history WHERE as_of > $night
        UNION SELECT as_of FROM runs WHERE status = 'success' AND as_of > $night
        ORDER BY as_of
        """,
        {"night": night},
    )
    for (as_of,) in later:
        legacy = scalar(
            con,
            "SELECT count(*) FROM alert_history WHERE as_of = $d AND status <> 'resolved' AND snapshot IS NULL",
            {"d": as_of},
        )
        if legacy:
            continue
        run_id = scalar(
            con,
            """
            SELECT coalesce(
                (SELECT any_value(run_id) FROM alert_history WHERE as_of = $d),
                (SELECT arg_max(run_id, finished_at) FROM runs WHERE as_of = $d AND status = 'success'))
            """,
            {"d": as_of},
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE alert_candidates AS SELECT s.* FROM "
            "(SELECT unnest(snapshot) AS s FROM alert_history WHERE as_of = $d AND snapshot IS NOT NULL)",
            {"d": as_of},
        )
        _classify_night(con, run_id or f"replay-{as_of}", as_of, growth, merge_gap_days, weights)


def refresh_alerts(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild `alerts`: every alert at its latest night, with its latest action and whether it is quiet."""
    latest_night = scalar(con, "SELECT max(as_of) FROM alert_history")
    con.execute("DELETE FROM alerts")
    if latest_night is not None:
        con.execute(
            f"INSERT INTO alerts BY NAME {sql_text('marts/alerts_latest.sql')}",
            {"latest_night": latest_night},
        )


def _adopt_legacy_history(con: duckdb.DuckDBPyConnection) -> None:
    """History rows written before alerts kept their state get it from `alerts` (latest state only)."""
    if not scalar(con, "SELECT count(*) FROM alert_history WHERE patient_id IS NULL"):
        return
    con.execute(
        """
        UPDATE alert_history AS h SET
            patient_id = a.patient_id, ingredient_a = a.ingredient_a, ingredient_b = a.ingredient_b,
            rule_id = a.rule_id, kind = a.kind, first_overlap_date = a.first_overlap_date,
            last_overlap_date = a.last_overlap_date, overlap_days = a.overlap_days,
            cross_prescriber = a.cross_prescriber, cross_pharmacy = a.cross_pharmacy,
            severity_rank = list_position($levels, h.severity),
            baseline_overlap_days = a.overlap_days,
            opened_on = (SELECT min(f.as_of) FROM alert_history AS f WHERE f.alert_id = h.alert_id),
            last_change_on = (SELECT min(f.as_of) FROM alert_history AS f WHERE f.alert_id = h.alert_id)
        FROM alerts AS a
        WHERE h.alert_id = a.alert_id AND h.patient_id IS NULL
        """,
        {"levels": sorted(SEVERITIES, key=SEVERITIES.get)},  # list_position: rank 1 first
    )


# ---------------------------------------------------------------------------- vocabularies and actions


def resolve_alert_id(con: duckdb.DuckDBPyConnection, text: str) -> str:
    """The full alert id for an id or an unambiguous prefix of at least 6 characters."""
    wanted = text.strip().lower()
    if scalar(con, "SELECT count(*) FROM alerts WHERE alert_id = $id", {"id": wanted}):
        return wanted
    found = (
        [
            a
            for (a,) in rows(
                con, "SELECT alert_id FROM alerts WHERE starts_with(alert_id, $p)", {"p": wanted}
            )
        ]
        if len(wanted) >= 6
        else []
    )
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
    night, status = rows(con, "SELECT as_of, status FROM alerts WHERE alert_id = $id", {"id": alert_id})[0]
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
    columns = ", ".join(stored)
    con.execute(
        f"INSERT INTO alert_actions ({columns}) VALUES ({', '.join('$' + k for k in stored)})", stored
    )
    refresh_alerts(con)
    return stored


def export_actions(con: duckdb.DuckDBPyConnection, out: Path) -> int:
    """Every action, oldest first, with its labels and the alert's patient and pair, as CSV; the count."""
    cursor = con.execute(
        """
        SELECT x.action_id, x.alert_id, a.patient_id, a.ingredient_a, a.ingredient_b, a.severity,
               x.acted_at, x.operator, x.night, x.status_at_action, x.action_code, x.result_code,
               x.response, x.snooze_until, x.note
        FROM alert_actions AS x LEFT JOIN alerts AS a USING (alert_id)
        ORDER BY x.acted_at, x.action_id
        """
    )
    names = [d[0] for d in cursor.description]
    records = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fields = [*names[:11], "action_label", "result_code", "result_label", "response", "response_label",
              "snooze_until", "note"]  # fmt: skip
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for record in records:
            writer.writerow(
                {
                    **record,
                    "action_label": label("professional_service", record["action_code"]),
                    "result_label": label("result_of_service", record["result_code"]),
                    "response_label": label("retrodur_response", record["response"]),
                }
            )
    return len(records)


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
    return _dicts(
        con,
        """
        SELECT *, CASE WHEN status = 'resolved' AND never_reviewed AND coalesce(severity_rank, 0) >= $keep
                       AND $keep > 0 THEN 'resolved, never reviewed' ELSE status END AS status_label
        FROM alerts
        WHERE coalesce(severity_rank, 0) >= $rank
          AND ((list_contains($statuses, status) AND ($all OR NOT quiet))
               OR ($unreviewed > 0 AND status = 'resolved' AND never_reviewed
                   AND coalesce(severity_rank, 0) >= $unreviewed))
        ORDER BY coalesce(severity_rank, 0) DESC, priority DESC,
                 list_position(['new', 'changed', 'ongoing', 'resolved'], status), alert_id
        """,
        {"statuses": statuses, "rank": rank, "all": include_all, "unreviewed": unreviewed,
         "keep": unreviewed_min_rank},
    )  # fmt: skip


def unreviewed_rank(con: duckdb.DuckDBPyConnection) -> int:
    """`alerts.keep_unreviewed_resolved` of the latest successful night, as a severity rank (0: off)."""
    latest = latest_success(con)
    settings = json.loads(latest["parameters"] or "{}").get("alerts", {}) if latest else {}
    return AlertConfig(
        **{k: v for k, v in settings.items() if k == "keep_unreviewed_resolved"}
    ).unreviewed_min_rank


def alert_detail(con: duckdb.DuckDBPyConnection, alert_id: str) -> dict[str, Any]:
    """Everything `alerts show` prints: the alert, its fills, its rule, its history and actions."""
    alert_id = resolve_alert_id(con, alert_id)
    alert = _dicts(con, "SELECT * FROM alerts WHERE alert_id = $id", {"id": alert_id})[0]
    fills = _dicts(
        con,
        """
        SELECT c.fill_date, fi.ingredient,
               coalesce(c.end_date, c.fill_date + c.days_supply - 1) AS supply_end,
               c.days_supply, c.quantity, c.prescriber_id, c.pharmacy_id, c.claim_status, c.claim_id,
               coalesce(c.drug_name, c.ndc, c.rxcui) AS product,
               list_contains(list_concat($claims_a, $claims_b), c.claim_id) AS in_alert,
               e.episode_start, e.episode_end
        FROM claims AS c
        JOIN fill_ingredients AS fi ON fi.claim_id = c.claim_id
        LEFT JOIN episodes AS e
            ON e.patient_id = c.patient_id AND e.ingredient = fi.ingredient AND list_contains(e.claim_ids, c.claim_id)
        WHERE c.patient_id = $patient AND fi.ingredient IN ($a, $b) AND c.fill_date <= $night
          AND coalesce(c.end_date, c.fill_date + c.days_supply - 1) >= $since
        ORDER BY c.fill_date, fi.ingredient, c.claim_id
        """,
        {
            "patient": alert["patient_id"], "a": alert["ingredient_a"], "b": alert["ingredient_b"],
            "night": alert["as_of"], "claims_a": alert["claim_ids_a"] or [], "claims_b": alert["claim_ids_b"] or [],
            "since": date.fromordinal(alert["first_overlap_date"].toordinal() - 180),
        },
    )  # fmt: skip
    history = _dicts(
        con,
        """
        SELECT as_of, run_id, status, status_reasons, severity, priority, kind, overlap_days,
               last_overlap_date, prescriber_ids_a, prescriber_ids_b, pharmacy_ids_a, pharmacy_ids_b
        FROM alert_history WHERE alert_id = $id ORDER BY as_of
        """,
        {"id": alert_id},
    )
    actions = _dicts(
        con, "SELECT * FROM alert_actions WHERE alert_id = $id ORDER BY acted_at, action_id", {"id": alert_id}
    )
    return {"alert": alert, "fills": fills, "rule": _rule(con, alert["rule_id"]), "history": history,
            "actions": actions}  # fmt: skip


def _rule(con: duckdb.DuckDBPyConnection, rule_id: str | None) -> dict[str, Any]:
    """The rule from the warehouse's rules_catalog (the rules the nights used), else from rules/."""
    if rule_id is None:
        return {}
    if scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'rules_catalog'"):
        found = _dicts(con, "SELECT * FROM rules_catalog WHERE rule_id = $r", {"r": rule_id})
        if found:
            return found[0]
    from serosurv.core.rules import load_rules

    for rule in load_rules(include_related=True).rules:
        if rule.rule_id == rule_id:
            keys = ("rule_id", "severity", "mechanism", "clinical_guidance", "source", "rule_set",
                    "verification_note")  # fmt: skip
            return {key: getattr(rule, key) for key in keys}
    return {"rule_id": rule_id}


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> list[dict]:
    cursor = con.execute(sql, params or {})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def to_json(records: list[dict[str, Any]]) -> str:
    return json.dumps(records, default=str, indent=2)
