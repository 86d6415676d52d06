"""The words for codes: NCPDP action, result and response codes (what a pharmacist records), the NCPDP DUR
indicators an alert carries, and the parts of an alert's priority. The codes live in
rules/alert_vocabularies.csv, each with its source, so a reviewer can read and change them."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from serosurv.core.errors import SerosurvError
from serosurv.core.resources import data_dir

VOCABULARY_FILE = "alert_vocabularies.csv"
# What a pharmacist records with `alerts act` (the option that takes each).
ACTION_VOCABULARIES = {
    "professional_service": "professional service code (--action)",
    "result_of_service": "result of service code (--result)",
    "retrodur_response": "RetroDUR response category (--response)",
}
# The NCPDP DUR fields every alert carries, in words.
INDICATOR_VOCABULARIES = {
    "clinical_significance": "clinical significance (528-FS)",
    "other_prescriber_indicator": "other prescriber indicator (533-FX)",
    "other_pharmacy_indicator": "other pharmacy indicator (529-FT)",
}
# (key of alerts.priority_parts, words, short words): the parts of an alert's priority, in the order the
# worklist and the report spell them out; their weights are the [alerts] priority settings.
PRIORITY_PARTS = (
    ("severity", "severity", "sev"),
    ("cross_prescriber", "different prescribers", "presc"),
    ("cross_pharmacy", "different pharmacies", "pharm"),
    ("washout", "washout (no longer scored)", "washout"),
    ("recency", "recent fill", "recent"),
    ("overlap", "overlap length", "overlap"),
    ("burden", "3+ serotonergic prescribers", "burden"),
)


@dataclass(frozen=True)
class Code:
    vocabulary: str
    code: str
    label: str
    source: str


@cache
def load_vocabularies(path: Path | None = None) -> dict[str, dict[str, Code]]:
    """rules/alert_vocabularies.csv as {vocabulary: {code: Code}}, checked on the way in."""
    path = Path(path) if path is not None else data_dir("rules") / VOCABULARY_FILE
    if not path.is_file():
        raise SerosurvError(f"The action vocabularies file {path} does not exist.")
    known = {**ACTION_VOCABULARIES, **INDICATOR_VOCABULARIES}
    result: dict[str, dict[str, Code]] = {name: {} for name in known}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"vocabulary", "code", "label", "source"} - set(reader.fieldnames or ())
        if missing:
            raise SerosurvError(f"{path}: the header lacks {', '.join(sorted(missing))}.")
        for line, row in enumerate(reader, start=2):
            vocabulary, code = (row["vocabulary"] or "").strip(), (row["code"] or "").strip()
            if vocabulary not in result:
                raise SerosurvError(
                    f"{path} line {line}, field vocabulary: '{vocabulary}' is not one of {', '.join(known)}."
                )
            if not code or not (row["label"] or "").strip() or not (row["source"] or "").strip():
                raise SerosurvError(f"{path} line {line}: code, label and source must all be filled in.")
            if code.upper() in {c.upper() for c in result[vocabulary]}:
                raise SerosurvError(f"{path} line {line}, field code: '{code}' is listed twice.")
            result[vocabulary][code] = Code(vocabulary, code, row["label"].strip(), row["source"].strip())
    return result


def check_code(vocabulary: str, text: str | None) -> str | None:
    """The code as listed (case-insensitive match), or a one-sentence error naming the valid ones."""
    if text is None:
        return None
    codes = load_vocabularies()[vocabulary]
    wanted = text.strip().upper().replace(" ", "_")
    for code in codes:
        if code.upper() == wanted:
            return code
    raise SerosurvError(
        f"'{text}' is not a {ACTION_VOCABULARIES[vocabulary]}; use one of {', '.join(codes)} "
        "(serosurv alerts codes lists them with their meaning)."
    )


def label(vocabulary: str, code: str | None, default: str | None = None) -> str:
    """The words for a code ('' for no code; the code itself, or `default`, for an unknown one)."""
    if code is None:
        return ""
    entry = load_vocabularies()[vocabulary].get(code)
    return entry.label if entry else (default if default is not None else code)


def indicator_label(vocabulary: str, code: str, default: str | None = None) -> str:
    """The words for an alert's NCPDP indicator value (clinical significance, other prescriber/pharmacy)."""
    return label(vocabulary, code, default)
