"""The page of `serosurv explain PATIENT --html FILE`: one patient's verdicts, the patient's timeline (every
rule drug on its own lane over the whole history, every interaction's window shaded), a chart scaled to each
interaction, every claim with its fate and mapping, and the episodes. Self-contained, no script: it opens
offline and prints. It names the patient, like the audit report, for the pharmacist who asked."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from reports.html import render
from reports.timeline import alert_window, patient_svg, timeline_svg
from transforms.explain import FATES, FOUND, VERDICTS, PatientExplanation


def _episode_rows(found: PatientExplanation) -> list[dict[str, Any]]:
    return [
        {"ingredient": e.ingredient, "episode_start": e.start, "episode_end": e.end} for e in found.episodes
    ]


def render_explanation(found: PatientExplanation) -> str:
    episodes = _episode_rows(found)
    interactions = [
        {**i, "as_of": found.night} for v in found.verdicts if v.code in FOUND for i in v.interactions
    ]
    windows = [alert_window(i, i.get("washout_days")) for i in interactions]
    ingredients = sorted({e["ingredient"] for e in found.exposures} | {e.ingredient for e in found.episodes})
    overview = (
        patient_svg(
            ingredients,
            found.exposures,
            episodes,
            windows,
            found.night,
            f"Timeline of every rule drug of patient {found.patient_id}",
        )
        if ingredients
        else ""
    )
    charts = [
        (
            i,
            timeline_svg(
                i,
                [f for f in found.exposures if f["ingredient"] in (i["ingredient_a"], i["ingredient_b"])],
                [e for e in episodes if e["ingredient"] in (i["ingredient_a"], i["ingredient_b"])],
                i.get("washout_days"),
            ),
        )
        for i in interactions
    ]
    return render(
        "explain.html.j2",
        found=found,
        generated=datetime.now(),
        overview=overview,
        charts=charts,
        fates=FATES,
        verdict_codes=VERDICTS,
    )


def write_explanation(found: PatientExplanation, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_explanation(found), encoding="utf-8")
    return out
