"""Why did (or didn't) an interaction fire for one patient: every claim's fate and a verdict with its reason
for every pair of the patient's drugs (transforms/explain.py), as data, text (the CLI), JSON and a small
HTML page with the patient's timeline.

The explanation names the patient (the pharmacist asked) and so goes only to the caller: nothing is logged,
and the warehouse is only read (read-only, closed before anything is computed)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from serosurv.api.warehouse import reading
from serosurv.core.drugnames import map_drug_name
from serosurv.core.errors import SerosurvError
from serosurv.core.permissions import owner_only
from serosurv.core.rules import RuleSet
from transforms.explain import PatientExplanation, build_explanation, gather, night_ruleset


@owner_only()
def explain_patient(
    patient_id: str,
    *,
    pair: tuple[str, str] | list[str] | None = None,
    as_of: date | None = None,
    warehouse: Path | str | None = None,
    html: Path | str | None = None,
) -> PatientExplanation:
    """Explain one patient's history: every claim with its fate, the mapping of each drug, the episodes,
    and for every pair of the patient's rule drugs (only the pair of two drug names, any name a pharmacy
    sends, with `pair`) the verdict and its reason (transforms.explain.VERDICTS).

    Default: the latest successful night (its stored interactions and alert states); `as_of`: the night of
    that date recomputed from the claims dated up to it, with the engine's SQL on an in-memory copy of the
    patient's claims. `html`: also write the page (with the patient's timeline) there."""
    if not patient_id or not patient_id.strip():
        raise SerosurvError("Give the patient id, as the claims carry it.")
    if pair is not None and len(pair) != 2:
        raise SerosurvError("--pair takes two drug names, e.g. --pair phenelzine sertraline.")
    with reading(warehouse) as con:
        facts = gather(con, patient_id, as_of)
    ruleset = night_ruleset(facts.run)
    wanted = None if pair is None else (_ingredients(pair[0], ruleset), _ingredients(pair[1], ruleset))
    found = build_explanation(facts, ruleset, wanted)
    if html is not None:
        from reports.explain import write_explanation

        write_explanation(found, Path(html))
    return found


def _ingredients(name: str, ruleset: RuleSet) -> list[str]:
    found = [ingredient for ingredient, _ in map_drug_name(name, ruleset)]
    if not found:
        raise SerosurvError(
            f"'{name}' is not a drug name the rule set knows; check the spelling (serosurv rules list shows the "
            "drugs) or give the ingredient."
        )
    return found
