"""OMOP mode reproduces the OHDSI drug_era algorithm, written here independently from the CDM era script.

Runs on the real Synthea27Nj OMOP sample in ../shared (skips without it). Ingredient = drug_concept_id
on both sides, so the comparison is about era construction only.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import polars as pl
import pytest

from serosurv.core.config import EpisodeConfig
from serosurv.core.warehouse import rows
from tests.conftest import SHARED
from transforms import engine

DRUG_EXPOSURE = SHARED / "datasets" / "synthea27nj-omop" / "drug_exposure.csv"

# The OHDSI CDM v5 drug era script (30-day persistence window), in DuckDB SQL.
OHDSI_DRUG_ERA = """
WITH target AS (
    SELECT person_id, drug_concept_id AS ingredient, drug_exposure_start_date AS start_date,
           COALESCE(drug_exposure_end_date,
                    NULLIF(drug_exposure_start_date + days_supply::INTEGER, drug_exposure_start_date),
                    drug_exposure_start_date + 1) AS end_date
    FROM de
),
events AS (
    SELECT person_id, ingredient, start_date AS event_date, -1 AS event_type,
           row_number() OVER (PARTITION BY person_id, ingredient ORDER BY start_date) AS start_ordinal
    FROM target
    UNION ALL
    SELECT person_id, ingredient, end_date + 30, 1, NULL FROM target
),
ordered AS (
    SELECT *,
           max(start_ordinal) OVER (PARTITION BY person_id, ingredient ORDER BY event_date, event_type
                                    ROWS UNBOUNDED PRECEDING) AS running_start,
           row_number() OVER (PARTITION BY person_id, ingredient ORDER BY event_date, event_type) AS overall
    FROM events
),
era_ends AS (
    SELECT person_id, ingredient, event_date - 30 AS end_date FROM ordered WHERE 2 * running_start - overall = 0
),
exposure_ends AS (
    SELECT t.person_id, t.ingredient, t.start_date, min(e.end_date) AS era_end
    FROM target t JOIN era_ends e ON t.person_id = e.person_id AND t.ingredient = e.ingredient
                                  AND e.end_date >= t.start_date
    GROUP BY t.person_id, t.ingredient, t.start_date, t.end_date
)
SELECT CAST(person_id AS VARCHAR), CAST(ingredient AS VARCHAR), min(start_date), era_end
FROM exposure_ends GROUP BY person_id, ingredient, era_end ORDER BY ALL
"""


def eras_both_ways(con) -> tuple[list, list]:
    """Our OMOP-mode episodes and the OHDSI script's eras for the exposures in temp table `de`."""
    con.execute(
        """
        INSERT INTO claims BY NAME
        SELECT CAST(drug_exposure_id AS VARCHAR) AS claim_id, CAST(person_id AS VARCHAR) AS patient_id,
               drug_exposure_start_date AS fill_date, drug_exposure_end_date AS end_date,
               CAST(days_supply AS INTEGER) AS days_supply, CAST(provider_id AS VARCHAR) AS prescriber_id,
               'paid' AS claim_status
        FROM de
        """
    )
    con.execute(
        "INSERT INTO fill_ingredients SELECT CAST(drug_exposure_id AS VARCHAR), CAST(drug_concept_id AS VARCHAR), "
        "NULL, 'rxcui', CAST(person_id AS VARCHAR) FROM de"
    )
    engine.register_rules(
        con,
        pl.DataFrame(
            schema={
                "ingredient_a": pl.String,
                "ingredient_b": pl.String,
                "rule_id": pl.String,
                "severity": pl.String,
                "severity_rank": pl.Int32,
                "route_a": pl.String,
                "route_b": pl.String,
                "washout_a_then_b": pl.Int32,
                "washout_b_then_a": pl.Int32,
                "min_overlap_days": pl.Int32,
                "rule_set": pl.String,
            }
        ),
    )
    con.execute("INSERT INTO rule_ingredients SELECT DISTINCT CAST(drug_concept_id AS VARCHAR) FROM de")
    engine.build_episodes(con, date(2100, 1, 1), EpisodeConfig(end_convention="omop"))
    got = rows(con, "SELECT patient_id, ingredient, episode_start, episode_end FROM episodes ORDER BY ALL")
    return got, rows(con, OHDSI_DRUG_ERA)


@pytest.mark.skipif(
    not DRUG_EXPOSURE.is_file(), reason="../shared/datasets/synthea27nj-omop is not available"
)
def test_omop_mode_reproduces_the_ohdsi_drug_era_on_synthea(warehouse):
    warehouse.execute(
        "CREATE TEMP TABLE de AS SELECT * FROM read_csv($p, header = true)", {"p": str(DRUG_EXPOSURE)}
    )
    got, expected = eras_both_ways(warehouse)
    assert len(expected) > 100
    assert got == expected


def test_omop_mode_reproduces_the_ohdsi_drug_era_at_the_persistence_boundary(warehouse):
    """Seeded random exposures with gaps around 30 days, half without an end date (days supply only)."""
    rng = random.Random(11)
    exposures = []
    for person in range(60):
        for concept in (1, 2):
            start = date(2020, 1, 1) + timedelta(days=rng.randrange(0, 20))
            for _ in range(rng.randrange(1, 6)):
                supply = rng.randrange(1, 45)
                end = start + timedelta(days=supply) if rng.random() < 0.5 else None
                exposures.append((len(exposures) + 1, person, concept, start, end, supply))
                start = (end or start + timedelta(days=supply)) + timedelta(
                    days=rng.choice([0, 1, 28, 29, 30, 31, 32])
                )
    warehouse.execute(
        "CREATE TEMP TABLE de (drug_exposure_id INTEGER, person_id INTEGER, drug_concept_id INTEGER, "
        "drug_exposure_start_date DATE, drug_exposure_end_date DATE, days_supply INTEGER, provider_id INTEGER)"
    )
    warehouse.executemany("INSERT INTO de VALUES (?, ?, ?, ?, ?, ?, NULL)", exposures)
    got, expected = eras_both_ways(warehouse)
    assert len({e[3] for e in expected}) > 50
    assert got == expected
