"""`serosurv alerts ...`: the pharmacist's worklist, one alert in full, actions and their export.

A thin layer over `transforms.alerts`; output is plain text (or CSV/JSON for `list`). `serosurv.cli` wires
it in with `add_parsers(commands)` and hands `alerts` commands to `dispatch(args)`.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

from serosurv.cli_args import WAREHOUSE_HELP, iso_date
from serosurv.errors import SerosurvError

_WIDTH = 100
_DEFAULT_WAREHOUSE = Path("serosurv.duckdb")
_PRESCRIBER_FLAG = {"0": "not specified", "1": "same prescriber", "2": "other prescriber"}
_PHARMACY_FLAG = {"0": "not specified", "1": "your pharmacy", "3": "other pharmacy"}
_SIGNIFICANCE = {"1": "major", "2": "moderate", "3": "minor"}
_REASONS = {
    "severity_raised": "severity raised",
    "new_prescriber": "new prescriber",
    "new_pharmacy": "new pharmacy",
    "washout_became_overlap": "washout became overlap",
    "overlap_grew": "overlap grew",
    "no_longer_current": "no longer current",
}
_PARTS = (
    ("severity", "severity"),
    ("cross_prescriber", "different prescribers"),
    ("cross_pharmacy", "different pharmacies"),
    ("washout", "washout"),
    ("recency", "recent fill"),
    ("overlap", "overlap length"),
    ("burden", "3+ serotonergic prescribers"),
)
LIST_COLUMNS = (
    "alert_id", "status", "status_label", "status_reasons", "quiet", "priority", "priority_parts", "severity",
    "clinical_significance", "patient_id", "ingredient_a", "ingredient_b", "rule_id", "kind",
    "first_overlap_date", "last_overlap_date", "overlap_days", "longest_overlap_days", "washout_gap_days",
    "cross_prescriber", "cross_pharmacy", "other_prescriber_indicator", "other_pharmacy_indicator",
    "reason_for_service", "current_drug", "other_drug", "previous_fill_date", "previous_fill_quantity",
    "newest_fill_date", "prescriber_ids_a", "prescriber_ids_b", "pharmacy_ids_a", "pharmacy_ids_b",
    "n_serotonergic_prescribers", "opened_on", "last_change_on", "as_of", "first_seen_run", "last_seen_run",
    "action", "action_result", "action_response", "action_operator", "action_at", "action_note",
    "snooze_until",
)  # fmt: skip


# ---------------------------------------------------------------------------- parsers


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `alerts` to the `serosurv` subcommands (the parser class is inherited)."""
    alerts = commands.add_parser(
        "alerts",
        help="the worklist: list alerts, show one in full, record what was done",
        description=(
            "The pharmacist's worklist. An alert is one patient's interacting pair, followed across nights "
            "with one id: new, ongoing, changed (severity raised, a new prescriber or pharmacy, a washout "
            "became an overlap, the overlap grew) or resolved. Recording an action keeps the alert off the "
            "worklist until it changes or its snooze date comes."
        ),
    )
    actions = alerts.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list",
        help="the worklist: open alerts that need attention, new and changed first",
        description=(
            "List alerts at their latest night: by default the new, changed and ongoing ones that nobody "
            "has acted on since they last changed (and that are not snoozed), new and changed first, then "
            "by priority. The priority's parts say why one alert is above another."
        ),
    )
    listing.add_argument(
        "--status", metavar="LIST", help="comma-separated statuses: new, changed, ongoing, resolved"
    )
    listing.add_argument(
        "--min-severity", metavar="LEVEL", help="contraindicated, major, moderate or minor (and above)"
    )
    listing.add_argument(
        "--all", action="store_true", help="also alerts that were acted on or snoozed, and resolved ones"
    )
    listing.add_argument("--format", choices=("table", "csv", "json"), default="table", help="default: table")
    listing.add_argument(
        "--warehouse", type=Path, default=_DEFAULT_WAREHOUSE, metavar="FILE", help=WAREHOUSE_HELP
    )

    show = actions.add_parser(
        "show",
        help="one alert in full: fills on both sides, rule and sources, history, actions",
        description=(
            "Show one alert: why it was raised and its priority, the NCPDP-style DUR fields, every fill of "
            "both drugs (dates, supply, prescriber, pharmacy), the rule with its guidance and sources, "
            "its status night by night and every action taken."
        ),
    )
    show.add_argument("alert_id", metavar="ALERT_ID", help="the alert id (or its first 6+ characters)")
    show.add_argument(
        "--warehouse", type=Path, default=_DEFAULT_WAREHOUSE, metavar="FILE", help=WAREHOUSE_HELP
    )

    act = actions.add_parser(
        "act",
        help="record what was done about an alert (NCPDP-style codes)",
        description=(
            "Record an action on an alert with NCPDP professional service and result of service codes "
            "and, for retrospective DUR letters, the prescriber's response. The alert then stays off the "
            "worklist until it changes, or until --snooze-until. `serosurv alerts codes` lists the codes."
        ),
    )
    act.add_argument("alert_id", metavar="ALERT_ID", help="the alert id (or its first 6+ characters)")
    act.add_argument("--action", required=True, metavar="CODE",
                     help="professional service code, e.g. M0 prescriber consulted, R0 pharmacist consulted "
                     "other source, MR medication review, CC coordination of care")  # fmt: skip
    act.add_argument("--result", metavar="CODE",
                     help="result of service code, e.g. 1G filled with prescriber approval, 1E filled with "
                     "a different drug, 2A prescription not filled, 3E therapy changed")  # fmt: skip
    act.add_argument("--response", metavar="CATEGORY",
                     help="RetroDUR prescriber response: agree, disagree, not_my_patient, did_not_prescribe")  # fmt: skip
    act.add_argument("--note", metavar="TEXT", help="free text kept with the action")
    act.add_argument("--snooze-until", type=iso_date, metavar="DATE",
                     help="keep the alert off the worklist until the night of DATE (or until it changes)")  # fmt: skip
    act.add_argument("--operator", required=True, metavar="NAME", help="who took the action")
    act.add_argument(
        "--warehouse", type=Path, default=_DEFAULT_WAREHOUSE, metavar="FILE", help=WAREHOUSE_HELP
    )

    export = actions.add_parser(
        "export-actions",
        help="write every recorded action to a CSV file",
        description="Write every action (who, when, codes with their meanings, note) to a CSV file, oldest first.",
    )
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="CSV file to write")
    export.add_argument(
        "--warehouse", type=Path, default=_DEFAULT_WAREHOUSE, metavar="FILE", help=WAREHOUSE_HELP
    )

    actions.add_parser(
        "codes",
        help="list the action, result and response codes with their sources",
        description="List the codes `alerts act` accepts (rules/alert_vocabularies.csv), with their sources.",
    )


def build_standalone_parser() -> argparse.ArgumentParser:
    """A `serosurv`-like parser with only `alerts` (for tests and before cli.py wires it in)."""
    from serosurv.cli import _Parser  # imported here: cli imports this module

    parser = _Parser(prog="serosurv")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add_parsers(commands)
    return parser


def dispatch(args: argparse.Namespace) -> int:
    command = args.alerts_command
    if command == "codes":
        print(codes_text())
        return 0
    if command == "list":
        statuses = [s.strip().lower() for s in args.status.split(",") if s.strip()] if args.status else None
        print(list_alerts(args.warehouse, statuses, args.min_severity, args.all, args.format))
    elif command == "show":
        print(show_alert(args.warehouse, args.alert_id))
    elif command == "act":
        print(act_on_alert(args.warehouse, args.alert_id, action=args.action, result=args.result,
                           response=args.response, note=args.note, snooze_until=args.snooze_until,
                           operator=args.operator))  # fmt: skip
    elif command == "export-actions":
        print(export_actions(args.warehouse, args.out))
    return 0


# ---------------------------------------------------------------------------- commands


def _open(warehouse: Path):
    from serosurv.warehouse import open_existing

    return open_existing(warehouse)


def list_alerts(
    warehouse: Path,
    statuses: list[str] | None = None,
    min_severity: str | None = None,
    include_all: bool = False,
    fmt: str = "table",
) -> str:
    from transforms import alerts

    con = _open(warehouse)
    try:
        found = alerts.worklist(con, statuses, min_severity, include_all)
        night = con.execute("SELECT max(as_of) FROM alert_history").fetchone()[0]
        hidden = 0
        if not include_all:
            wanted = statuses or ["new", "changed", "ongoing"]
            hidden = sum(1 for a in alerts.worklist(con, wanted, min_severity, True) if a["quiet"])
    finally:
        con.close()
    records = [{key: alert.get(key) for key in LIST_COLUMNS} for alert in found]
    if fmt == "json":
        return alerts.to_json(records)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=LIST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({k: _csv_value(k, v) for k, v in record.items()})
        return buffer.getvalue().rstrip("\n")
    header = ("alert", "status", "priority", "severity", "patient", "pair", "kind", "days", "window",
              "prescribers", "pharmacies", "why this priority", "action")  # fmt: skip
    table = [
        (
            a["alert_id"],
            (a.get("status_label") or a["status"])
            + ("*" if a["quiet"] else "")
            + (f": {_reasons(a['status_reasons'])}" if a["status"] == "changed" else ""),
            f"{a['priority']:.1f}",
            a["severity"] or "",
            a["patient_id"],
            f"{a['ingredient_a']} + {a['ingredient_b']}",
            a["kind"] or "",
            str(a["overlap_days"] if a["kind"] == "overlap" else f"gap {a['washout_gap_days']}"),
            f"{a['first_overlap_date']}..{a['last_overlap_date']}",
            _PRESCRIBER_FLAG.get(a["other_prescriber_indicator"] or "0", ""),
            _PHARMACY_FLAG.get(a["other_pharmacy_indicator"] or "0", ""),
            _parts_short(a["priority_parts"]),
            _action_short(a),
        )
        for a in found
    ]
    lines = _table(header, table) if table else ["No alerts to show."]
    summary = f"{len(found)} alert(s), night {night}." if night else "No night has run in this warehouse."
    if hidden:
        summary += f" {hidden} acted-on or snoozed alert(s) hidden (--all shows them)."
    if any(a["quiet"] for a in found):
        summary += " * acted on or snoozed."
    return "\n".join([*lines, "", summary])


def show_alert(warehouse: Path, alert_id: str) -> str:
    from transforms import alerts

    con = _open(warehouse)
    try:
        detail = alerts.alert_detail(con, alert_id)
    finally:
        con.close()
    return "\n".join(_detail_lines(detail))


def act_on_alert(warehouse: Path, alert_id: str, *, action: str, operator: str, result: str | None = None,
                 response: str | None = None, note: str | None = None,
                 snooze_until: date | None = None) -> str:  # fmt: skip
    from serosurv.lock import warehouse_lock
    from serosurv.warehouse import transaction
    from transforms import alerts

    with warehouse_lock(warehouse, "alerts act"):
        con = _open(warehouse)
        try:
            with transaction(con):
                stored = alerts.record_action(
                    con, alert_id, action=action, operator=operator, result=result, response=response,
                    note=note, snooze_until=snooze_until,
                )  # fmt: skip
        finally:
            con.close()
    what = f"{stored['action_code']} ({alerts.label('professional_service', stored['action_code'])})"
    if stored["result_code"]:
        what += (
            f", result {stored['result_code']} ({alerts.label('result_of_service', stored['result_code'])})"
        )
    if stored["response"]:
        what += f", prescriber response {stored['response']}"
    until = f"until the night of {stored['snooze_until']} or " if stored["snooze_until"] else "until "
    return (
        f"Recorded {what} on alert {stored['alert_id']} by {stored['operator']} at {stored['acted_at']}; "
        f"it stays off the worklist {until}it changes."
    )


def export_actions(warehouse: Path, out: Path) -> str:
    from transforms import alerts

    con = _open(warehouse)
    try:
        n = alerts.export_actions(con, out)
    finally:
        con.close()
    return f"Wrote {n} action(s) to {out}."


def codes_text() -> str:
    from transforms import alerts

    lines = []
    for vocabulary, title in alerts.VOCABULARIES.items():
        codes = alerts.load_vocabularies()[vocabulary]
        sources = sorted({code.source for code in codes.values()})
        lines.append(f"{title[0].upper()}{title[1:]}:")
        lines.extend(f"  {code.code:<18} {code.label}" for code in codes.values())
        lines.extend(textwrap.wrap(f"Source: {'; '.join(sources)}", _WIDTH, initial_indent="  ",
                                   subsequent_indent="    "))  # fmt: skip
        lines.append("")
    return "\n".join(lines).rstrip()


# ---------------------------------------------------------------------------- formatting


def _csv_value(key: str, value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(map(str, value))
    if key == "priority_parts" and value:
        return _parts_short(value)
    return value


def _parts_short(parts: dict[str, float] | None) -> str:
    if not parts:
        return ""
    short = {"severity": "sev", "cross_prescriber": "presc", "cross_pharmacy": "pharm", "washout": "washout",
             "recency": "recent", "overlap": "overlap", "burden": "burden"}  # fmt: skip
    return " + ".join(f"{short[k]} {parts[k]:g}" for k, _ in _PARTS if parts.get(k))


def _parts_long(parts: dict[str, float] | None) -> str:
    if not parts:
        return "no parts (resolved)"
    return " + ".join(f"{name} {parts[k]:g}" for k, name in _PARTS if parts.get(k))


def _action_short(alert: dict[str, Any]) -> str:
    if not alert["action"]:
        return ""
    text = alert["action"] + (f"/{alert['action_result']}" if alert["action_result"] else "")
    if alert["action_response"]:
        text += f" {alert['action_response']}"
    if alert["snooze_until"]:
        text += f" snooze {alert['snooze_until']}"
    return text


def _reasons(reasons: list[str] | None) -> str:
    return ", ".join(_REASONS.get(r, r) for r in reasons or [])


def _ids(values: list[str] | None) -> str:
    return ", ".join(values or []) or "unknown"


def _detail_lines(detail: dict[str, Any]) -> list[str]:
    from transforms import alerts

    a, rule = detail["alert"], detail["rule"]
    pair = f"{a['ingredient_a']} + {a['ingredient_b']}"
    status = a["status"].upper() + (f" ({_reasons(a['status_reasons'])})" if a["status_reasons"] else "")
    lines = [
        f"Alert {a['alert_id']}: {status} on the night of {a['as_of']}; opened {a['opened_on']}, "
        f"last new or changed {a['last_change_on']}.",
        f"Patient {a['patient_id']}: {pair}, {a['severity']} (rule {a['rule_id']}); clinical significance "
        f"{a['clinical_significance']} ({_SIGNIFICANCE.get(a['clinical_significance'] or '', '?')}).",
        f"Priority {a['priority']:.1f} = {_parts_long(a['priority_parts'])}.",
    ]
    if a["kind"] == "washout":
        from reports.audit import washout_words

        first = a["ingredient_a"] if a["initiation_order"] == "a_first" else a["ingredient_b"]
        second = a["ingredient_b"] if first == a["ingredient_a"] else a["ingredient_a"]
        lines.append(
            f"Washout: {second} started on {a['first_overlap_date']}, "
            f"{washout_words(a['washout_gap_days'], first)} of the rule."
        )
    else:
        lines.append(
            f"Overlap: {a['overlap_days']} day(s) covered together between {a['first_overlap_date']} and "
            f"{a['last_overlap_date']} (longest run {a['longest_overlap_days']} days)."
        )
    lines.append(
        f"NCPDP-style DUR: reason {a['reason_for_service']} (drug-drug interaction); other prescriber "
        f"indicator {a['other_prescriber_indicator']} ({_PRESCRIBER_FLAG.get(a['other_prescriber_indicator'] or '0')}); "
        f"other pharmacy indicator {a['other_pharmacy_indicator']} "
        f"({_PHARMACY_FLAG.get(a['other_pharmacy_indicator'] or '0')}); current drug {a['current_drug']}; "
        f"previous fill of {a['other_drug']} on {a['previous_fill_date']}, quantity "
        f"{_number(a['previous_fill_quantity'])}."
    )
    lines.append(
        f"Prescribers: {a['ingredient_a']} {_ids(a['prescriber_ids_a'])}; {a['ingredient_b']} "
        f"{_ids(a['prescriber_ids_b'])}. Pharmacies: {a['ingredient_a']} {_ids(a['pharmacy_ids_a'])}; "
        f"{a['ingredient_b']} {_ids(a['pharmacy_ids_b'])}. Serotonergic prescribers in the window: "
        f"{a['n_serotonergic_prescribers']}."
    )
    if a["quiet"]:
        until = f" until the night of {a['snooze_until']} or" if a["snooze_until"] else ""
        lines.append(f"Quiet: acted on since it last changed; off the worklist{until} until it changes.")
    lines = [w for line in lines for w in textwrap.wrap(line, _WIDTH, subsequent_indent="  ")]

    lines += ["", f"Fills of {a['ingredient_a']} and {a['ingredient_b']} (* = covers the alert):"]
    fills = [
        (
            "*" if f["in_alert"] else "",
            str(f["fill_date"]),
            f["ingredient"],
            f"{f['fill_date']}..{f['supply_end']}",
            str(f["days_supply"] if f["days_supply"] is not None else ""),
            _number(f["quantity"]),
            f["prescriber_id"] or "unknown",
            f["pharmacy_id"] or "unknown",
            f["claim_status"] or "",
            f["claim_id"],
            f"{f['episode_start']}..{f['episode_end']}" if f["episode_start"] else "",
        )
        for f in detail["fills"]
    ]
    header = ("", "fill date", "drug", "covers", "days", "qty", "prescriber", "pharmacy", "status", "claim",
              "episode")  # fmt: skip
    lines += _table(header, fills) if fills else ["  none found in the warehouse"]

    lines += [
        "",
        f"Rule {rule.get('rule_id')} ({rule.get('severity', '?')}, {rule.get('rule_set', '?')} rules):",
    ]
    for key, name in (("mechanism", "Mechanism"), ("clinical_guidance", "What to do"), ("source", "Sources"),
                      ("verification_note", "Still to verify")):  # fmt: skip
        if rule.get(key):
            lines += textwrap.wrap(
                f"{name}: {rule[key]}", _WIDTH, initial_indent="  ", subsequent_indent="      "
            )

    lines += ["", "History:"]
    lines += _table(
        ("night", "status", "why", "severity", "priority", "kind", "overlap days"),
        [
            (
                str(h["as_of"]),
                h["status"],
                _reasons(h["status_reasons"]),
                h["severity"] or "",
                f"{h['priority']:.1f}",
                h["kind"] or "",
                str(h["overlap_days"]),
            )
            for h in detail["history"]
        ],  # fmt: skip
    )
    lines += ["", "Actions:"]
    if detail["actions"]:
        lines += _table(
            ("acted at", "operator", "night", "action", "result", "response", "snooze until", "note"),
            [
                (
                    str(x["acted_at"]),
                    x["operator"],
                    str(x["night"]),
                    f"{x['action_code']} {alerts.label('professional_service', x['action_code'])}",
                    f"{x['result_code']} {alerts.label('result_of_service', x['result_code'])}"
                    if x["result_code"]
                    else "",
                    x["response"] or "",
                    str(x["snooze_until"] or ""),
                    x["note"] or "",
                )
                for x in detail["actions"]
            ],
        )
    else:
        lines.append("  none yet (serosurv alerts act ALERT_ID --action CODE --operator NAME)")
    return lines


def _number(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:g}"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(value)) for value in column) for column in zip(header, *rows, strict=True)]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(str(v).ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return [line(header), line(tuple("-" * w for w in widths)), *(line(row) for row in rows)]


def main(argv: list[str] | None = None) -> int:
    """`python -m serosurv.alerts_cli alerts ...` until cli.py wires the command in."""
    try:
        return dispatch(build_standalone_parser().parse_args(argv))
    except SerosurvError as exc:
        print(f"serosurv: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
