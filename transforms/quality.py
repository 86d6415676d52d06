"""The data-quality gate: checks the row checks cannot make, judged by Great Expectations over the night's
profile and the profiles of earlier nights; past a check's stop level the night stops, past its warn
level it goes on and the report says so.

The row checks (sql/staging/stg_checked.sql) already quarantine every row that breaks the contract, so
nothing here looks at single rows: a night can pass every row check and still be wrong as a whole (a
truncated or doubled extract, a shifted NDC column, a code system nothing maps or that maps far less than
the names beside it, a wrong --as-of, a
patient id column filled with one value, days supply in the quantity column). Those show in a night's
profile (sql/analyses/night_profile.sql: one row of volumes and shares, kept in `night_profiles`) and in
how it compares with the median of the trailing nights (sql/analyses/night_profile_history.sql).

Why this route: GX 1.x has no native DuckDB or Polars data source, and its pandas route costs about 11 s
per 10M rows; the profile is computed in DuckDB and validated as a one-row pandas frame, so the gate's
cost does not grow with the night. Each check is an `ExpectColumnValuesToBeBetween` on the profile with
bounds from configuration ([validation.checks], absolute levels) or from the history (trend levels); one
suite per level (stop, warn), and the stop suite's result decides whether the night goes on. Every check
can fail: tests/test_quality_gate.py shows each failing on a realistic broken extract.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandas as pd
import polars as pl

from serosurv.core.config import Limit, ValidationConfig
from serosurv.core.drugnames import known_drug_words, normalise_name
from transforms.sql import delete_rows, fetch, fetch_frame, fetch_one, insert_frame, replace_rows

PROFILE_COLUMNS = (
    "quarantine_rate",
    "reversal_share",
    "rule_mapped_share",
    "recognised_share",
    "code_only_mapped_share",
    "code_vs_name_share",
    "known_prescriber_share",
    "known_pharmacy_share",
    "newest_fill_lag_days",
    "patients_per_claim",
    "median_days_supply",
    "long_supply_share",
)
FIELD_WORDS = {"prescriber_id": "prescribers", "pharmacy_id": "pharmacies"}


@dataclass(frozen=True)
class Check:
    """One check of the gate: the profile column it judges, how (floor: at least; ceiling: at most;
    trend: within a factor of the trailing median), over which count (shares need enough claims), and
    what it means in a pharmacist's words."""

    name: str
    column: str
    kind: str  # floor | ceiling | trend
    unit: str  # share | days | count | ratio
    what: str  # the observed value in words: "{value} of the {n} rows read were quarantined"
    denominator: str | None  # profile column that must reach min_claims_for_shares
    advice: str
    needs_field: str | None = None  # a field the source may not carry


CHECKS: tuple[Check, ...] = (
    Check(
        "quarantine_rate",
        "quarantine_rate",
        "ceiling",
        "share",
        "{value} of the {rows_read} rows read were quarantined",
        None,
        "{top_reject}Look at the quarantine (serosurv quarantine list --run {run_id}): a broken, shifted "
        "or partial extract is the usual cause.",
    ),
    Check(
        "rule_mapped_share",
        "rule_mapped_share",
        "floor",
        "share",
        "{value} of the {paid_claims} paid claims map to a drug the rules know (a serotonergic or other "
        "rule ingredient)",
        "paid_claims",
        "Check that the drug name, NDC and RxNorm columns hold what their names say (a shifted column maps "
        "nothing).",
    ),
    Check(
        "code_only_mapped_share",
        "code_only_mapped_share",
        "floor",
        "share",
        "{value} of the {code_only_claims} paid claims that carry only a code (NDC or RxNorm, no drug "
        "name) map to a rule ingredient",
        "code_only_claims",
        "Codes map through the crosswalks shipped in rules/rxnorm/ and those imported: check that the column "
        "holds NDCs (11 digits, or 10 with their hyphens) or RxNorm codes (RxCUIs), and import your code "
        "system's crosswalk when the shipped one does not know your codes (serosurv reference import-ndc PATH, "
        "serosurv reference import-rxnorm PATH).",
    ),
    Check(
        "code_vs_name_share",
        "code_vs_name_share",
        "floor",
        "share",
        "{value} of the {code_and_name_claims} paid claims with both an {code_systems} code and a drug name that "
        "map to a rule drug are mapped by that code alone (the weakest code column; the rest fall back to "
        "their names)",
        "code_and_name_claims",
        "The {code_systems} codes map far less than the names beside them: check that the column holds "
        "{code_systems} codes "
        "(internal product ids or another code system map nothing; {ten_digit_ndc_claims} paid claims carry a "
        "10-digit NDC without hyphens), or import your codes' crosswalk when they are older or newer than the "
        "shipped one (serosurv reference import-ndc PATH, serosurv reference import-rxnorm PATH). Tonight "
        "their names map these claims.",
    ),
    Check(
        "recognised_share",
        "recognised_share",
        "floor",
        "share",
        "{value} of the {named_claims} paid claims with a drug name name a drug serosurv recognises",
        "named_claims",
        "Look at the unmapped drugs in the report: names that are ids, numbers or dates mean the drug name "
        "column holds something else.",
    ),
    Check(
        "reversal_share",
        "reversal_share",
        "ceiling",
        "share",
        "{value} of the {rows_accepted} accepted claims are reversals or adjustments",
        "rows_accepted",
        "Check the claim status column and its codes (an extract of reversals only, or paid claims coded as "
        "reversed).",
    ),
    Check(
        "known_prescriber_share",
        "known_prescriber_share",
        "floor",
        "share",
        "{value} of the {rows_accepted} accepted claims name their prescriber",
        "rows_accepted",
        "Without prescribers, fragmented care (two prescribers who cannot see each other's drugs) cannot be "
        "measured. Check the prescriber column; if the source never records prescribers, declare it with "
        '[source] absent_fields = ["prescriber_id"].',
        needs_field="prescriber_id",
    ),
    Check(
        "known_pharmacy_share",
        "known_pharmacy_share",
        "floor",
        "share",
        "{value} of the {rows_accepted} accepted claims name their pharmacy",
        "rows_accepted",
        "Without pharmacies, cross-pharmacy care cannot be measured. Check the pharmacy column; if the source "
        'never records pharmacies, declare it with [source] absent_fields = ["pharmacy_id"].',
        needs_field="pharmacy_id",
    ),
    Check(
        "newest_fill_lag_days",
        "newest_fill_lag_days",
        "ceiling",
        "days",
        "the newest claim of the night was filled {value} before the night ({newest_fill_date})",
        None,
        "Either --as-of names the wrong night (run the night of the extract: --as-of {newest_fill_date} or "
        "later) or the extract is stale; the worklist only shows what is current at the night.",
    ),
    Check(
        "patients_per_claim",
        "patients_per_claim",
        "floor",
        "ratio",
        "the {rows_accepted} accepted claims belong to {patients} patients ({value} patients per claim)",
        "rows_accepted",
        "Check the patient id column: one value for every row (a placeholder) merges everyone into one patient.",
    ),
    Check(
        "long_supply_share",
        "long_supply_share",
        "ceiling",
        "share",
        "{value} of the paid claims supply more than 120 days",
        "paid_claims",
        "Check the days-supply column: quantities or dates read as days supply give long supplies.",
    ),
    Check(
        "volume_trend",
        "rows_read",
        "trend",
        "count",
        "the night read {value} rows",
        None,
        "Compare the extract with the previous ones: a truncated or doubled file is the usual cause.",
    ),
    Check(
        "rule_mapped_share_trend",
        "rule_mapped_share",
        "trend",
        "share",
        "{value} of the paid claims map to a rule ingredient",
        "paid_claims",
        "A sudden change in the drugs that map means a column moved or a code system changed.",
    ),
    Check(
        "known_prescriber_share_trend",
        "known_prescriber_share",
        "trend",
        "share",
        "{value} of the accepted claims name their prescriber",
        "rows_accepted",
        "A prescriber column that emptied makes every interaction look like one prescriber's.",
        needs_field="prescriber_id",
    ),
    Check(
        "known_pharmacy_share_trend",
        "known_pharmacy_share",
        "trend",
        "share",
        "{value} of the accepted claims name their pharmacy",
        "rows_accepted",
        "A pharmacy column that emptied hides cross-pharmacy care.",
        needs_field="pharmacy_id",
    ),
    Check(
        "patients_per_claim_trend",
        "patients_per_claim",
        "trend",
        "ratio",
        "the night has {value} patients per claim",
        "rows_accepted",
        "Check the patient id column (a placeholder merges patients; a claim id in it splits them).",
    ),
    Check(
        "median_days_supply_trend",
        "median_days_supply",
        "trend",
        "days",
        "the median days supply is {value}",
        "paid_claims",
        "Check the days-supply column (quantities or weeks read as days).",
    ),
)
CHECK_BY_NAME = {c.name: c for c in CHECKS}
TITLES = {
    "empty_night": "New claims in the night",
    "quarantine_rate": "Rows quarantined",
    "rule_mapped_share": "Claims mapping to a rule drug",
    "code_only_mapped_share": "Code-only claims mapping to a rule drug",
    "code_vs_name_share": "Codes mapping beside their names",
    "recognised_share": "Drug names recognised",
    "reversal_share": "Reversals and adjustments",
    "known_prescriber_share": "Claims with a prescriber",
    "known_pharmacy_share": "Claims with a pharmacy",
    "newest_fill_lag_days": "Newest claim against the night",
    "patients_per_claim": "Distinct patients",
    "long_supply_share": "Supplies over 120 days",
    "volume_trend": "Volume against earlier nights",
    "rule_mapped_share_trend": "Mapping against earlier nights",
    "known_prescriber_share_trend": "Prescribers against earlier nights",
    "known_pharmacy_share_trend": "Pharmacies against earlier nights",
    "patients_per_claim_trend": "Patients per claim against earlier nights",
    "median_days_supply_trend": "Days supply against earlier nights",
}


@dataclass(frozen=True)
class GateResult:
    success: bool
    results: list[dict[str, Any]]  # one per check: check_name, status, value, levels, setting, message
    profile: dict[str, Any] | None = None

    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["status"] == "stopped"]

    def warnings(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["status"] == "warning"]

    def summary(self) -> str:
        failed, warned = self.failures(), self.warnings()
        judged = sum(r["status"] != "not_judged" for r in self.results)
        if failed:
            return " ".join(r["message"] for r in failed)
        if warned:
            return (
                f"{judged - len(warned)} of {judged} checks passed, {len(warned)} warning(s): "
                + " ".join(r["message"] for r in warned)
                + self._too_small()
            )
        return f"all {judged} data-quality checks passed" + self._too_small()

    def _too_small(self) -> str:
        """When the night is too small for its shares to be judged (a passed gate then says little), how
        many checks were left out and why: never a bare "all checks passed"."""
        shares = next((r for r in self.results if r["check_name"] == "rule_mapped_share"), None)
        if shares is None or shares["status"] != "not_judged":
            return ""
        left = sum(r["status"] == "not_judged" for r in self.results)
        why = shares["message"].removeprefix("Not judged: ")
        return f"; {left} other checks were not judged: {why}"


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "share":
        return f"{value:.1%}" if value >= 0.001 or value == 0 else f"{value:.2%}"
    if unit == "days":
        return f"{value:,.0f} day{'s' if round(value) != 1 else ''}"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:.3f}"


def _level_text(check: Check, level: float, median: float | None, which: str) -> str:
    verb = "stops" if which == "stop" else "warns"
    if check.kind == "trend":
        high = min(median * level, 1.0) if check.unit == "share" else median * level
        return (
            f"the night {verb} outside {_format(median / level, check.unit)} to "
            f"{_format(high, check.unit)} (1/{level:g} to {level:g} times the median of earlier "
            f"nights, {_format(median, check.unit)})"
        )
    bound = "below" if check.kind == "floor" else "above"
    return f"the night {verb} {bound} {_format(level, check.unit)}"


def _bounds(check: Check, level: float, median: float | None) -> tuple[float | None, float | None]:
    if check.kind == "floor":
        return level, None
    if check.kind == "ceiling":
        return None, level
    return median / level, median * level


def _setting(name: str, which: str) -> str:
    return f"[validation.checks] {name}.{which}"


def recognised_names(con: duckdb.DuckDBPyConnection, run_id: str) -> pl.DataFrame:
    """This night's unmapped drug names that hold a real drug word (rules/rxnorm/known_drug_words.txt):
    a drug serosurv knows of although no rule names it (lisinopril), as opposed to an id or a number."""
    known = known_drug_words()
    names = [r[0] for r in fetch(con, "analyses/night_unmapped_names.sql", {"run_id": run_id})]
    recognised = [n for n in names if set(normalise_name(n).split()) & known]
    return pl.DataFrame({"drug_name": recognised}, schema={"drug_name": pl.String})


def night_profile(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, rows_read: int, absent: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The night's profile (sql/marts/night_profiles.sql), recorded in `night_profiles`."""
    con.register("recognised_names", recognised_names(con, run_id))
    try:
        params = {"run_id": run_id, "as_of": as_of, "rows_read": rows_read, "absent_fields": ",".join(absent)}
        replace_rows(con, "night_profiles", "marts/night_profiles.sql", params, key="run_id")
    finally:
        con.unregister("recognised_names")
    return fetch_one(con, "analyses/night_profile.sql", {"run_id": run_id})


def record_profile(con: duckdb.DuckDBPyConnection, profile: dict[str, Any] | None) -> None:
    """Keep a profile computed earlier (a failed night's, again after its rollback)."""
    if profile:
        delete_rows(con, "night_profiles", run_id=profile["run_id"])
        insert_frame(con, "night_profiles", pl.DataFrame([profile]))


def trailing_medians(
    con: duckdb.DuckDBPyConnection, as_of: date, nights: int
) -> tuple[int, dict[str, float]]:
    """(how many earlier nights, the median of each profile column over them)."""
    history = fetch_frame(con, "analyses/night_profile_history.sql", {"as_of": as_of, "nights": nights})
    medians = {}
    for column in ("rows_read", *PROFILE_COLUMNS):
        values = [v for v in history[column].to_list() if v is not None]
        if values:
            medians[column] = float(statistics.median(values))
    return history.height, medians


def _plan(
    profile: dict[str, Any], limits: ValidationConfig, history: int, medians: dict[str, float]
) -> tuple[list[dict[str, Any]], list[tuple[str, str, float | None, float | None]]]:
    """Every check's result skeleton, and the expectations to ask GX: (check, level, min, max)."""
    results, expectations = [], []
    absent = {f for f in (profile.get("absent_fields") or "").split(",") if f}
    accepted = profile["rows_accepted"] or 0
    new_rows = accepted + (profile["rows_rejected"] or 0)  # rows not loaded by an earlier night
    empty_level = limits.empty_night
    results.append(
        {
            "check_name": "empty_night",
            "column": "rows_new",
            "value": float(new_rows),
            "unit": "count",
            "levels": {empty_level: 1.0},
            "median": None,
            "not_judged": "",
        }
    )
    expectations.append(("empty_night", empty_level, 1.0, None))
    for check in CHECKS:
        value = profile.get(check.column)
        level: Limit = getattr(limits.checks, check.name)
        reason = ""
        median = medians.get(check.column)
        if new_rows == 0:
            reason = "the night has no new claims"
        elif accepted == 0 and check.name != "quarantine_rate":
            reason = "the night accepted no claim"
        elif check.needs_field and check.needs_field in absent:
            reason = (
                f"the source does not carry {FIELD_WORDS[check.needs_field]} (declared by its input format or "
                "[source] absent_fields)"
            )
        elif check.denominator and (profile.get(check.denominator) or 0) < limits.min_claims_for_shares:
            reason = (
                f"{profile.get(check.denominator) or 0:,} claims are too few to judge "
                f"([validation] min_claims_for_shares = {limits.min_claims_for_shares:,})"
            )
        elif value is None:
            reason = "nothing to measure"
        elif check.kind == "trend" and history < limits.min_history_nights:
            reason = (
                f"{history} earlier night(s) recorded; trends need {limits.min_history_nights} "
                "([validation] min_history_nights)"
            )
        elif check.kind == "trend" and not median:
            reason = "the earlier nights have no value to compare with"
        elif check.name == "volume_trend" and median < limits.min_claims_for_shares:
            reason = (
                f"earlier nights read {median:,.0f} rows (median): too few to judge a volume "
                f"([validation] min_claims_for_shares = {limits.min_claims_for_shares:,})"
            )
        elif not level.warn and not level.stop:
            reason = f"turned off ({_setting(check.name, 'warn')} and .stop are 0)"
        results.append(
            {
                "check_name": check.name,
                "column": check.column,
                "value": None if value is None else float(value),
                "unit": check.unit,
                "levels": {w: getattr(level, w) for w in ("stop", "warn") if getattr(level, w)},
                "median": median,
                "not_judged": reason,
            }
        )
        if not reason:
            for which in ("stop", "warn"):
                if getattr(level, which):
                    low, high = _bounds(check, getattr(level, which), median)
                    expectations.append((check.name, which, low, high))
    return results, expectations


def _validate(profile: dict[str, Any], expectations: list[tuple[str, str, float | None, float | None]]):
    """Ask Great Expectations, one suite per level over the one-row profile; {(check, level): success}."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx  # slow import (~4 s): only when a night reaches the gate
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    values = {**profile, "rows_new": (profile["rows_accepted"] or 0) + (profile["rows_rejected"] or 0)}
    frame = pd.DataFrame([{k: (float(v) if isinstance(v, int | float) else v) for k, v in values.items()}])
    asset = context.data_sources.add_pandas("serosurv").add_dataframe_asset("night_profile")
    batch = asset.add_batch_definition_whole_dataframe("night").get_batch(
        batch_parameters={"dataframe": frame}
    )
    outcome: dict[tuple[str, str], tuple[bool, str]] = {}
    for which in ("stop", "warn"):
        suite = gx.ExpectationSuite(name=f"night_profile_{which}")
        for name, level, low, high in expectations:
            if level == which:
                column = "rows_new" if name == "empty_night" else CHECK_BY_NAME[name].column
                suite.add_expectation(
                    gx.expectations.ExpectColumnValuesToBeBetween(
                        column=column, min_value=low, max_value=high, meta={"check": name}
                    )
                )
        if not suite.expectations:
            continue
        suite = context.suites.add(suite)
        for item in batch.validate(suite).to_json_dict()["results"]:
            config = item["expectation_config"]
            outcome[(config["meta"]["check"], which)] = (
                bool(item["success"]),
                f"{config['type']}({config['kwargs']['column']})",
            )
    return outcome


def _message(result: dict[str, Any], profile: dict[str, Any]) -> str:
    name, status = result["check_name"], result["status"]
    unit = result["unit"]
    if name == "empty_night":
        if status == "passed":
            new_rows = (profile["rows_accepted"] or 0) + (profile["rows_rejected"] or 0)
            return f"The night has {new_rows:,} new rows ({profile['rows_accepted']:,} claims accepted)."
        level = "stops" if status == "stopped" else "goes on: alerts age and resolve as on any night"
        return (
            f"The night has no new claims ({profile['rows_read']:,} rows read); it {level} "
            "([validation] empty_night). A holiday extract is empty; a missing one is not: check the file."
        )
    check = CHECK_BY_NAME[name]
    facts = {
        k: (f"{v:,}" if isinstance(v, int) else v) for k, v in profile.items() if not isinstance(v, float)
    }
    what = check.what.format(**{**facts, "value": _format(result["value"], unit)})
    if status == "not_judged":
        return f"Not judged: {result['not_judged']}."
    if check.kind == "trend":
        what += f" against a median of {_format(result['median'], unit)} over the earlier nights"
    sentence = what[0].upper() + what[1:]
    if status == "passed":
        return sentence + "."
    which = "stop" if status == "stopped" else "warn"
    level = result["levels"][which]
    advice = check.advice.format(**facts, top_reject=_top_reject(profile))
    return (
        f"{sentence}; {_level_text(check, level, result['median'], which)} "
        f"({_setting(name, which)} = {level:g}). {advice}"
    )


# Quarantine reasons that a setting governs, and what to set when the rows are real data, not errors.
REASON_SETTINGS = {
    "implausible_fill_date": "if those dates are real (whole-life histories, old records), set [validation] "
    "earliest_fill_date earlier",
    "field_too_long": "if those fields are real, raise [source] max_field_length",
    "undecodable_text": "if the file is in another encoding, declare it with [source] encoding",
}


def _top_reject(profile: dict[str, Any]) -> str:
    """'Most are implausible_fill_date (177); if those dates are real ..., set ... ' or ''."""
    reason, rows = profile.get("top_reject_reason"), profile.get("top_reject_rows")
    if not reason:
        return ""
    setting = REASON_SETTINGS.get(reason)
    return f"Most are {reason} ({rows:,}){'; ' + setting if setting else ''}. "


def _level_words(result: dict[str, Any], which: str) -> str:
    level = result["levels"].get(which)
    if not level:
        return "off"
    if result["check_name"] == "empty_night":
        return "no new claims"
    check = CHECK_BY_NAME[result["check_name"]]
    if check.kind == "trend":
        return f"outside 1/{level:g}x to {level:g}x the median"
    return f"{'below' if check.kind == 'floor' else 'above'} {_format(level, check.unit)}"


def run_gate(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    limits: ValidationConfig,
    rows_read: int,
    absent: tuple[str, ...] = (),
) -> GateResult:
    """Profile the night, judge it with Great Expectations and record every check's result in words."""
    profile = night_profile(con, run_id, as_of, rows_read, absent)
    history, medians = trailing_medians(con, as_of, limits.history_nights)
    results, expectations = _plan(profile, limits, history, medians)
    outcome = _validate(profile, expectations)
    for result in results:
        name = result["check_name"]
        stop, warn = outcome.get((name, "stop")), outcome.get((name, "warn"))
        if result["not_judged"]:
            result["status"] = "not_judged"
        elif stop and not stop[0]:
            result["status"] = "stopped"
        elif warn and not warn[0]:
            result["status"] = "warning"
        else:
            result["status"] = "passed"
        decided = stop if result["status"] != "warning" else warn
        result["expectation"] = (decided or warn or (None, None))[1]
        result["message"] = _message(result, profile)
        result["setting"] = (
            "[validation] empty_night" if name == "empty_night" else f"[validation.checks] {name}"
        )
        result["warn_level"], result["stop_level"] = (
            _level_words(result, "warn"),
            _level_words(result, "stop"),
        )
        result["observed"] = _format(result["value"], result["unit"])
    record_results(con, run_id, results)
    return GateResult(not any(r["status"] == "stopped" for r in results), results, profile)


DQ_RESULT_SCHEMA = {
    "run_id": pl.String,
    "suite": pl.String,
    "expectation": pl.String,
    "success": pl.Boolean,
    "observed": pl.String,
    "check_name": pl.String,
    "status": pl.String,
    "value": pl.Float64,
    "warn_level": pl.String,
    "stop_level": pl.String,
    "setting": pl.String,
    "message": pl.String,
}


def record_results(con: duckdb.DuckDBPyConnection, run_id: str, results: list[dict[str, Any]]) -> None:
    """Keep each check's result (replacing the run's earlier ones)."""
    delete_rows(con, "dq_results", run_id=run_id)
    rows = [
        {
            **{k: r.get(k) for k in DQ_RESULT_SCHEMA},
            "run_id": run_id,
            "suite": "night_profile",
            "success": r["status"] != "stopped",
        }
        for r in results
    ]
    insert_frame(con, "dq_results", pl.DataFrame(rows, schema=DQ_RESULT_SCHEMA))
