"""Terminal formatting of the API's results: the only place serosurv writes text for a terminal."""

from __future__ import annotations

import csv
import io
import json
import shlex
import textwrap
from pathlib import Path
from typing import Any

from serosurv.api import (
    AgentList,
    AlertDetail,
    AuditFiles,
    Explanation,
    NightResult,
    PairExplanation,
    PatientExplanation,
    RulesCheck,
    Worklist,
)
from serosurv.core.vocabularies import PRIORITY_PARTS, indicator_label

WIDTH = 100
# How an ongoing order's fill is explained (a start without stop date or days supply; [episodes]
# ongoing_max_days caps it).
ONGOING_ORDER = "ongoing order (no stop date): counted to the night"
_REASONS = {
    "severity_raised": "severity raised",
    "new_prescriber": "new prescriber",
    "new_pharmacy": "new pharmacy",
    "washout_became_overlap": "washout became overlap",
    "overlap_grew": "overlap grew",
    "no_longer_current": "no longer current",
}
LIST_COLUMNS = (
    "alert_id",
    "status",
    "status_label",
    "status_reasons",
    "quiet",
    "priority",
    "priority_parts",
    "severity",
    "clinical_significance",
    "patient_id",
    "ingredient_a",
    "ingredient_b",
    "rule_id",
    "kind",
    "first_overlap_date",
    "last_overlap_date",
    "overlap_days",
    "longest_overlap_days",
    "washout_gap_days",
    "cross_prescriber",
    "cross_pharmacy",
    "other_prescriber_indicator",
    "other_pharmacy_indicator",
    "reason_for_service",
    "current_drug",
    "other_drug",
    "previous_fill_date",
    "previous_fill_quantity",
    "newest_fill_date",
    "prescriber_ids_a",
    "prescriber_ids_b",
    "pharmacy_ids_a",
    "pharmacy_ids_b",
    "n_serotonergic_prescribers",
    "opened_on",
    "last_change_on",
    "as_of",
    "first_seen_run",
    "last_seen_run",
    "action",
    "action_result",
    "action_response",
    "action_operator",
    "action_at",
    "action_note",
    "snooze_until",
)
JURISDICTION_WORDS = {
    "us": "US levels (rules.jurisdiction = us)",
    "fr": "ANSM levels where ANSM rates the pair (rules.jurisdiction = fr)",
    "strictest": "the higher of the US and ANSM levels (rules.jurisdiction = strictest)",
}


def table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    widths = [max(len(str(value)) for value in column) for column in zip(header, *rows, strict=True)]

    def line(values: tuple[Any, ...]) -> str:
        return "  ".join(str(v).ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return [line(header), line(tuple("-" * w for w in widths)), *(line(row) for row in rows)]


def wrapped(label: str, text: str, indent: int = 2) -> list[str]:
    return textwrap.wrap(
        f"{label}: {text}",
        width=WIDTH,
        initial_indent=" " * indent,
        subsequent_indent=" " * (indent + 4),
        break_on_hyphens=False,
    )


# ---------------------------------------------------------------------------- nights


def night(result: NightResult, explore: bool = False) -> str:
    """A night's summary; `explore` adds the commands that read its warehouse (the demo's is not the
    default one)."""
    counts = result.counts
    lines = [
        f"Night {result.as_of} (run {result.run_id}): {counts.get('rows_read', 0):,} rows read, "
        f"{counts.get('rows_accepted', 0):,} accepted, {counts.get('rows_quarantined', 0):,} quarantined; "
        f"{counts.get('alerts_new', 0):,} new, {counts.get('alerts_changed', 0):,} changed, "
        f"{counts.get('alerts_ongoing', 0):,} ongoing, {counts.get('alerts_resolved', 0):,} resolved alerts.",
        f"Report:   {result.reports['report']}",
        f"Worklist: {result.reports['alerts']} (and {result.reports['alerts_parquet'].name})",
    ]
    if result.dashboard:
        lines.append(f"Quality dashboard: {result.dashboard}")
    if result.warehouse:
        lines.append(f"Warehouse: {result.warehouse}")
    if explore and result.warehouse:
        where = shlex.quote(str(result.warehouse))
        lines += [
            "Explore it:",
            f"  serosurv alerts list --warehouse {where}",
            f'  serosurv query "select severity, status, count(*) from alerts group by all" --warehouse {where}',
        ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- rules


def days_text(days: int | None) -> str:
    if days is None:
        return "-"
    return "1 day (24 h)" if days == 1 else f"{days} days"


def agents(listing: AgentList) -> str:
    rows = [
        (
            r["ingredient"],
            r["drug_class"],
            r["serotonergic_role"],
            days_text(r["washout_days_before_maoi"]),
            days_text(r["washout_days_after_maoi"]),
            ", ".join(r["routes_that_matter"]) or "any",
        )
        for r in listing.agents.iter_rows(named=True)
    ]
    header = (
        "ingredient",
        "class",
        "serotonergic role",
        "washout before an MAOI",
        "washout after this MAOI",
        "routes",
    )
    lines = table(header, rows)
    lines.append("")
    lines.append(
        f"{len(rows)} drugs; rule sets: {', '.join(listing.rule_sets)}; rules hash {listing.rules_hash[:12]}."
    )
    lines.extend(
        textwrap.wrap(
            "Washout before an MAOI: days to wait after stopping the drug before an MAOI may start. "
            "Washout after this MAOI: days to wait after stopping the MAOI before a serotonergic drug "
            "may start. Routes: the routes that change the risk (any: the route does not matter).",
            width=WIDTH,
        )
    )
    if listing.comparators:
        lines.append(
            f"Comparators used only by the related rules ({', '.join(listing.comparators)}): add --related."
        )
    return "\n".join(lines)


def _drug(ingredient: str, route: str | None) -> str:
    return f"{ingredient} ({route})" if route else ingredient


def _ingredients(ingredients: list[tuple[str, str | None]]) -> str:
    return " + ".join(_drug(name, route) for name, route in ingredients)


def explanation(found: Explanation) -> str:
    lines = [
        f"'{found.a_name}' is {_ingredients(found.a_ingredients)}; "
        f"'{found.b_name}' is {_ingredients(found.b_ingredients)}.",
        f"Rule sets: {', '.join(found.rule_sets)}; rules hash {found.rules_hash[:12]}.",
    ]
    if not found.pairs:
        lines.append("")
        lines.append(
            "Both names are the same ingredient; a drug never interacts with itself in these rules "
            "(duplicate therapy is not checked)."
        )
        return "\n".join(lines)
    for pair in found.pairs:
        lines.append("")
        lines.extend(_pair_lines(pair, found))
    return "\n".join(lines)


def _pair_lines(pair: PairExplanation, found: Explanation) -> list[str]:
    a, b = _drug(pair.ingredient_a, pair.route_a), _drug(pair.ingredient_b, pair.route_b)
    winner = pair.winner
    if winner is None:
        if pair.not_applied:
            return [f"No rule with a level in this jurisdiction covers {a} + {b}.", *_not_applied_lines(pair)]
        if found.include_related:
            return [f"No rule covers {a} + {b}, in the serotonergic or the related rules."]
        if pair.related_winner is None:
            return [f"No serotonergic rule covers {a} + {b}, and the related rules have none either."]
        other = pair.related_winner
        return [
            f"No serotonergic rule covers {a} + {b}; the related rules (--related) have one: "
            f"{other['rule_id']} ({other['severity']}, not serotonin syndrome)."
        ]
    lines = [
        f"{a} + {b}: {winner['severity'].upper()} (rule {winner['rule_id']}, {winner['rule_set']} rules)",
        f"  Levels: US {winner['severity_us'] or 'none (no US source)'}; French ANSM "
        f"{winner['severity_ansm'] or 'no entry'}; this rule set uses {JURISDICTION_WORDS[found.jurisdiction]}.",
        "  Washout:",
        "    " + _washout_sentence(a, b, pair.washout_a_then_b),
        "    " + _washout_sentence(b, a, pair.washout_b_then_a),
    ]
    if winner["washout_period"]:
        lines.extend(wrapped("As the sources word it", winner["washout_period"], indent=4))
    for label, key in (
        ("Mechanism", "mechanism"),
        ("What to do", "clinical_guidance"),
        ("Why this severity", "severity_basis"),
        ("ANSM level", "ansm_level"),
        ("Sources", "source"),
        ("Notes", "notes"),
        ("Still to verify", "verification_note"),
    ):
        if winner[key]:
            lines.extend(wrapped(label, winner[key]))
    lines.append("  Matching rules, most severe first (the first one decides):")
    for match in pair.matches:
        mark = "*" if match["rule_id"] == winner["rule_id"] else " "
        lines.append(
            f"   {mark} {match['rule_id']:<4} {match['severity']:<15} {match['rule_set']:<12} "
            f"{match['side_a']}  x  {match['side_b']}"
        )
    lines.extend(_not_applied_lines(pair))
    return lines


def _not_applied_lines(pair: PairExplanation) -> list[str]:
    """Rules that match but have no level in this jurisdiction (e.g. ANSM-only contraindications)."""
    if not pair.not_applied:
        return []
    lines = [
        "  Not applied here (no level in this jurisdiction; rules.jurisdiction = fr or strictest uses them):"
    ]
    for rule in pair.not_applied:
        lines.append(
            f"     {rule['rule_id']:<4} US {rule['severity_us'] or 'none':<15} ANSM {rule['severity_ansm'] or 'none':<15} "
            f"{rule['side_a']}  x  {rule['side_b']}"
        )
    return lines


def _washout_sentence(first: str, then: str, days: int | None) -> str:
    if days is None:
        return f"{first} then {then}: no washout; only overlapping days-supply counts."
    if days == 0:
        return f"after stopping {first}, {then} may start the next day."
    wait = "1 day (24 hours)" if days == 1 else f"{days} days"
    return f"after stopping {first} wait {wait} before starting {then}"


def rules_check(found: RulesCheck, show_all: bool = False) -> str:
    shown = f"The rule folder {found.folder}" if found.folder is not None else "The built-in rule folder"
    lines = [
        f"{shown} is valid: {found.agents} agents, {found.synonyms} synonyms, "
        f"{sum(found.rules_by_set.values())} rules with a level in this jurisdiction "
        f"({', '.join(f'{n} {name}' for name, n in found.rules_by_set.items())}; {found.unrated} more have only "
        f"the other jurisdiction's level); {found.to_verify} rows carry a verification note to read before go-live.",
        f"rules hash: {found.rules_hash}",
    ]
    if not found.consistency_checked:
        lines.append("No consistency.csv in the rule folder: drugs of one mechanism were not compared.")
        return "\n".join(lines)
    lines.append("")
    lines.append(
        f"One mechanism, one severity (consistency.csv, {JURISDICTION_WORDS[found.jurisdiction]}): "
        f"{len(found.findings)} partner(s) rated differently across a group, {len(found.unexplained)} without a "
        "documented reason."
    )
    for finding in found.unexplained:
        lines.extend(
            textwrap.wrap("NOT EXPLAINED: " + finding.sentence(), width=WIDTH, subsequent_indent="    ")
        )
    if show_all:
        for finding in (f for f in found.findings if f.explained):
            lines.extend(
                textwrap.wrap(
                    f"explained: {finding.sentence()} - {' / '.join(finding.reasons)}",
                    width=WIDTH,
                    subsequent_indent="    ",
                )
            )
    elif len(found.findings) > len(found.unexplained):
        lines.append("--all lists the explained ones with their reasons.")
    return "\n".join(lines)


def ndc_import(counts: dict, path: Path, warehouse: Path) -> str:
    from transforms.ndc_import import SOURCE

    if counts["kind"] == "csv":
        by = "RxNorm code" if counts["mapped_by"] == "rxcui" else "ingredient name"
        summary = (
            f"NDC crosswalk from {path}: {counts['rows_read']:,} rows read; {counts['ndcs_mapped']:,} NDCs hold one "
            f"or more of {counts['ingredients']:,} rule-set ingredients by their {by} ({counts['rows_written']:,} "
            f"rows written to ref_ndc in {warehouse}, source '{counts['source']}')."
        )
        if counts["rows_without_valid_ndc"]:
            summary += (
                f"\n{counts['rows_without_valid_ndc']:,} rows were skipped because their ndc is not an NDC (11 "
                "digits, or hyphenated 4-4-2, 5-3-2 or 5-4-1; ten digits without hyphens are ambiguous), the "
                f"first at row {counts['first_invalid_row']}: '{counts['first_invalid_ndc']}'."
            )
        if counts["rows_without_rule_ingredient"]:
            summary += (
                f"\n{counts['rows_without_rule_ingredient']:,} rows hold no rule-set ingredient (other drugs, or "
                f"{by}s serosurv does not know) and were not written."
            )
        return summary
    summary = (
        f"FDA NDC Directory from {path}: {counts['products_read']:,} products and "
        f"{counts['packages_read']:,} packages read; {counts['packages_mapped']:,} packages contain one "
        f"or more of {counts['ingredients']:,} rule-set ingredients ({counts['rows_written']:,} rows "
        f"written to ref_ndc in {warehouse}, source '{SOURCE}')."
    )
    if counts["packages_without_valid_ndc"]:
        summary += (
            f"\n{counts['packages_without_valid_ndc']:,} packages of those products were skipped because "
            "their NDCPACKAGECODE is not a hyphenated 4-4-2, 5-3-2 or 5-4-1 NDC."
        )
    return summary


def rxnorm_import(counts: dict, warehouse: Path) -> str:
    summary = (
        f"{counts['layout']} from {counts['folder']}: {counts['concepts_read']:,} RxNorm concepts read, "
        f"{counts['ingredient_codes']:,} of them ingredient codes of {counts['ingredients']:,} rule-set "
        f"ingredients; {counts['codes_mapped']:,} codes hold one or more of them ({counts['rows_written']:,} rows "
        f"written to ref_rxnorm in {warehouse}, source '{counts['source']}')."
    )
    if counts["ndcs_mapped"]:
        summary += f"\n{counts['ndcs_mapped']:,} of its NDCs map to those codes (written to ref_ndc)."
    if not counts["ingredient_codes"]:
        summary += (
            "\nNo ingredient of the release is a rule-set ingredient: check that the folder holds RxNorm "
            "(SAB RXNORM in RXNCONSO.RRF; vocabulary_id RxNorm in CONCEPT.csv)."
        )
    return summary


# ---------------------------------------------------------------------------- alerts


def worklist(found: Worklist, fmt: str = "table") -> str:
    alerts = found.alerts.to_dicts()
    records = [{key: alert.get(key) for key in LIST_COLUMNS} for alert in alerts]
    if fmt == "json":
        return json.dumps(records, default=str, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=LIST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({k: _csv_value(k, v) for k, v in record.items()})
        return buffer.getvalue().rstrip("\n")
    header = (
        "alert",
        "status",
        "priority",
        "severity",
        "patient",
        "pair",
        "kind",
        "days",
        "window",
        "prescribers",
        "pharmacies",
        "why this priority",
        "action",
    )
    rows = [
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
            indicator_label("other_prescriber_indicator", a["other_prescriber_indicator"] or "0"),
            indicator_label("other_pharmacy_indicator", a["other_pharmacy_indicator"] or "0"),
            _parts_short(a["priority_parts"]),
            _action_short(a),
        )
        for a in alerts
    ]
    lines = table(header, rows) if rows else ["No alerts to show."]
    summary = (
        f"{len(alerts)} alert(s), night {found.night}."
        if found.night
        else "No night has run in this warehouse."
    )
    if found.hidden:
        summary += f" {found.hidden} acted-on or snoozed alert(s) hidden (--all shows them)."
    if any(a["quiet"] for a in alerts):
        summary += " * acted on or snoozed."
    return "\n".join([*lines, "", summary])


def _csv_value(key: str, value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(map(str, value))
    if key == "priority_parts" and value:
        return _parts_short(value)
    return value


def _parts_short(parts: dict[str, float] | None) -> str:
    if not parts:
        return ""
    return " + ".join(f"{short} {parts[k]:g}" for k, _, short in PRIORITY_PARTS if parts.get(k))


def _parts_long(parts: dict[str, float] | None) -> str:
    if not parts:
        return "no parts (resolved)"
    return " + ".join(f"{name} {parts[k]:g}" for k, name, _ in PRIORITY_PARTS if parts.get(k))


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


def _number(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g}"


def alert_detail(detail: AlertDetail) -> str:
    from reports.audit import washout_words
    from serosurv.core.vocabularies import label

    a, rule = detail.alert, detail.rule
    pair = f"{a['ingredient_a']} + {a['ingredient_b']}"
    status = a["status"].upper() + (f" ({_reasons(a['status_reasons'])})" if a["status_reasons"] else "")
    lines = [
        f"Alert {a['alert_id']}: {status} on the night of {a['as_of']}; opened {a['opened_on']}, "
        f"last new or changed {a['last_change_on']}.",
        f"Patient {a['patient_id']}: {pair}, {a['severity']} (rule {a['rule_id']}); NCPDP clinical significance "
        f"{a['clinical_significance']} ({indicator_label('clinical_significance', a['clinical_significance'] or '', '?')}).",
        f"Priority {a['priority']:.1f} = {_parts_long(a['priority_parts'])}.",
    ]
    if a["kind"] == "washout":
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
        f"indicator {a['other_prescriber_indicator']} "
        f"({indicator_label('other_prescriber_indicator', a['other_prescriber_indicator'] or '0')}); "
        f"other pharmacy indicator {a['other_pharmacy_indicator']} "
        f"({indicator_label('other_pharmacy_indicator', a['other_pharmacy_indicator'] or '0')}); current drug "
        f"{a['current_drug']}; previous fill of {a['other_drug']} on {a['previous_fill_date']}, quantity "
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
    lines = [w for line in lines for w in textwrap.wrap(line, WIDTH, subsequent_indent="  ")]

    lines += ["", f"Fills of {a['ingredient_a']} and {a['ingredient_b']} (* = covers the alert):"]
    fills = [
        (
            "*" if f["in_alert"] else "",
            str(f["fill_date"]),
            f["ingredient"] + (" ~" if f.get("mapped_by") == "name_approx" else ""),
            f"{f['fill_date']}..{f['supply_end']}" + (" +" if f.get("ongoing") else ""),
            str(f["days_supply"] if f["days_supply"] is not None else ""),
            _number(f["quantity"]),
            f["prescriber_id"] or "unknown",
            f["pharmacy_id"] or "unknown",
            f["claim_status"] or "",
            f["claim_id"],
            f"{f['episode_start']}..{f['episode_end']}" if f["episode_start"] else "",
        )
        for f in detail.fills
    ]
    header = (
        "",
        "fill date",
        "drug",
        "covers",
        "days",
        "qty",
        "prescriber",
        "pharmacy",
        "status",
        "claim",
        "episode",
    )
    lines += table(header, fills) if fills else ["  none found in the warehouse"]
    if any(f.get("mapped_by") == "name_approx" for f in detail.fills):
        lines.append("  ~ name matched approximately (a misspelt or foreign name): check the claim.")
    if any(f.get("ongoing") for f in detail.fills):
        lines.append(f"  + {ONGOING_ORDER}")

    lines += [
        "",
        f"Rule {rule.get('rule_id')} ({rule.get('severity', '?')}, {rule.get('rule_set', '?')} rules):",
    ]
    for key, name in (
        ("mechanism", "Mechanism"),
        ("clinical_guidance", "What to do"),
        ("source", "Sources"),
        ("verification_note", "Still to verify"),
    ):
        if rule.get(key):
            lines += textwrap.wrap(
                f"{name}: {rule[key]}", WIDTH, initial_indent="  ", subsequent_indent="      "
            )

    lines += ["", "History:"]
    lines += table(
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
            for h in detail.history
        ],
    )
    lines += ["", "Actions:"]
    if detail.actions:
        lines += table(
            ("acted at", "operator", "night", "action", "result", "response", "snooze until", "note"),
            [
                (
                    str(x["acted_at"]),
                    x["operator"],
                    str(x["night"]),
                    f"{x['action_code']} {label('professional_service', x['action_code'])}",
                    f"{x['result_code']} {label('result_of_service', x['result_code'])}"
                    if x["result_code"]
                    else "",
                    x["response"] or "",
                    str(x["snooze_until"] or ""),
                    x["note"] or "",
                )
                for x in detail.actions
            ],
        )
    else:
        lines.append("  none yet (serosurv alerts act ALERT_ID --action CODE --operator NAME)")
    return "\n".join(lines)


def recorded_action(stored: dict[str, Any]) -> str:
    from serosurv.core.vocabularies import label

    what = f"{stored['action_code']} ({label('professional_service', stored['action_code'])})"
    if stored["result_code"]:
        what += f", result {stored['result_code']} ({label('result_of_service', stored['result_code'])})"
    if stored["response"]:
        what += f", prescriber response {stored['response']}"
    until = f"until the night of {stored['snooze_until']} or " if stored["snooze_until"] else "until "
    return (
        f"Recorded {what} on alert {stored['alert_id']} by {stored['operator']} at {stored['acted_at']}; "
        f"it stays off the worklist {until}it changes."
    )


def codes(frame) -> str:
    lines: list[str] = []
    for (_, title), group in frame.group_by(["vocabulary", "title"], maintain_order=True):
        lines.append(f"{title[0].upper()}{title[1:]}:")
        lines.extend(f"  {code:<18} {label}" for code, label in group.select("code", "label").iter_rows())
        sources = sorted(set(group["source"]))
        lines.extend(
            textwrap.wrap(
                f"Source: {'; '.join(sources)}", WIDTH, initial_indent="  ", subsequent_indent="    "
            )
        )
        lines.append("")
    return "\n".join(lines).rstrip()


def query_result(frame, fmt: str = "table") -> str:
    if fmt == "csv":
        return frame.write_csv().rstrip("\n")
    if fmt == "json":
        return json.dumps(frame.to_dicts(), default=str, indent=2)
    if frame.width == 0:
        return "(no rows)"
    rows = [tuple("" if v is None else v for v in row) for row in frame.iter_rows()]
    return "\n".join([*table(tuple(frame.columns), rows), "", f"{frame.height:,} row(s)."])


def quarantine_list(found, fmt: str = "table") -> str:
    """A run's quarantine: a line on the run, the count per reason with examples, then the rows."""
    if fmt != "table":
        return query_result(found.rows, fmt)
    run = found.run
    head = (
        f"Run {run['run_id']} (night {run['as_of']}, {run['status']}): {run.get('rows_read') or 0:,} rows read, "
        f"{found.reasons['quarantined_rows'].sum():,} quarantined."
    )
    if found.reasons.is_empty():
        return head + " No row was quarantined."
    reasons = [
        (code, f"{n:,}", reason, "; ".join(examples))
        for code, n, reason, examples in found.reasons.iter_rows()
    ]
    lines = [head, "", *table(("reason", "rows", "e.g.", "example rows"), reasons), ""]
    return "\n".join(lines) + "\n" + query_result(found.rows)


def prevalence_written(written: Any) -> str:
    """Where `serosurv prevalence` wrote its table and summary, and a warning for left-censored intervals."""
    lines = [f"Prevalence: {written.table}", f"Summary:    {written.summary}"]
    if written.left_censored:
        intervals = ", ".join(written.left_censored)
        lines.append(
            f"Warning: {intervals} start(s) fewer than {written.lookback_days} days after the warehouse's first "
            "claim, so people supplied before the data begins are missed and those estimates are low "
            "(column left_censored; [research] lookback_days)."
        )
    return "\n".join(lines)


def dashboard_written(page: Any, tables: Any = None) -> str:
    """Where `serosurv report dashboard` wrote its page (and its tables as CSV)."""
    lines = [f"Dashboard: {page}"]
    if tables is not None:
        lines.append(f"Tables:    {tables} (one CSV file per table)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- explain and audit


def patient_explanation(found: PatientExplanation, page: Path | None = None) -> str:
    """One patient's explanation: the night, the verdicts (pairs without a rule on one line), every claim
    with its fate and mapping, the episodes."""
    if found.mode == "night":
        where = f"the latest successful night, {found.night} (run {found.run_id})"
    else:
        where = f"the night of {found.night}, recomputed from the claims dated up to it (settings of run {found.run_id})"
    lines = [
        f"Patient {found.patient_id}: {where}; rules version {found.rules_hash[:12]}.",
        "Nothing was written to the warehouse or to any log.",
    ]
    for note in found.notes:
        lines += textwrap.wrap("Note: " + note, WIDTH, subsequent_indent="  ")
    lines += ["", "Verdicts, pair by pair:"]
    no_rule = [v for v in found.verdicts if v.code == "no_rule"]
    for v in found.verdicts:
        if v.code == "no_rule":
            continue
        level = f" ({v.severity}, rule {v.rule_id})" if v.severity else ""
        lines.append(f"  {v.ingredient_a} + {v.ingredient_b}: {v.code.upper()}{level}")
        lines += textwrap.wrap(v.words, WIDTH, initial_indent="      ", subsequent_indent="      ")
        for note in v.notes:
            lines += textwrap.wrap(
                "Note: " + note, WIDTH, initial_indent="      ", subsequent_indent="        "
            )
    if no_rule:
        pairs = ", ".join(f"{v.ingredient_a} + {v.ingredient_b}" for v in no_rule)
        lines += textwrap.wrap(
            f"NO_RULE (no rule of the active sets covers them): {pairs}.",
            WIDTH,
            initial_indent="  ",
            subsequent_indent="      ",
        )
    if not found.verdicts:
        lines.append("  none: the patient has fewer than two drugs the rules name.")
    lines += ["", f"Claims and quarantined rows ({len(found.claims)}), by fill date:"]
    for c in found.claims:
        supply = (
            f"{c.days_supply} d" if c.days_supply is not None else (f"to {c.end_date}" if c.end_date else "")
        )
        who = f"{c.prescriber_id or 'unknown'}/{c.pharmacy_id or 'unknown'}"
        ident = c.claim_id or f"{c.source_file} row {c.source_row}"
        lines.append(f"  {c.fill_date or '?'}  {ident}  {c.drug}  {supply}  {who}  {c.fate.upper()}")
        lines += textwrap.wrap(c.words, WIDTH, initial_indent="      ", subsequent_indent="        ")
        lines += textwrap.wrap(
            "maps: " + c.mapping, WIDTH, initial_indent="      ", subsequent_indent="        "
        )
    lines += ["", "Episodes:"]
    rows = [
        (
            e.ingredient,
            str(e.start),
            str(e.end),
            str(e.supply_end or ""),
            ", ".join(e.claim_ids),
            ", ".join(e.prescriber_ids) or "unknown",
            ", ".join(e.pharmacy_ids) or "unknown",
        )
        for e in found.episodes
    ]
    header = ("drug", "from", "to", "runs out", "claims", "prescribers", "pharmacies")
    lines += ["  " + line for line in table(header, rows)] if rows else ["  none up to the night"]
    settings = ", ".join(f"{k} = {v}" for k, v in found.settings.items())
    lines += [""] + textwrap.wrap(f"Settings of the night: {settings}.", WIDTH, subsequent_indent="  ")
    if page is not None:
        lines.append(f"Page with the timeline: {page}")
    return "\n".join(lines)


def period_audit(written: AuditFiles) -> str:
    return "\n".join(
        [
            f"Audit: {written.interactions:,} interaction(s) active in the period, as the night of {written.night} "
            "computed them (read-only: no alert changed).",
            f"Report:  {written.report}",
            f"CSV:     {written.csv}",
            f"Parquet: {written.parquet}",
        ]
    )
