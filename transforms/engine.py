"""Episodes and interactions: the engine, from accepted claims to `interactions` (all SQL in sql/)."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from serosurv.core.config import EpisodeConfig, InteractionConfig
from serosurv.core.warehouse import count_rows
from transforms import stockpiling
from transforms.sql import (
    create_macros,
    create_table,
    fetch,
    fetch_one,
    joins_as_written,
    replace_rows,
    run,
    table_from_frame,
)

# The macros the engine's statements use (sql/macros/).
MACROS = ("supply_end", "supply_days", "ongoing_end", "sorted_distinct")
# The episode step's intermediate steps, by the session table each makes when stored.
STEPS = {"fills": "intermediate/int_fills.sql", "stockpiled_fills": "intermediate/int_stockpiled_fills.sql"}


def register_rules(
    con: duckdb.DuckDBPyConnection, pair_table: pl.DataFrame, serotonergic: frozenset[str] | None = None
) -> None:
    """Make the winning rule per ingredient pair, and the ingredients rules name, visible to SQL.

    `serotonergic` are the ingredients that count toward serotonergic burden (default: every rule
    ingredient)."""
    table_from_frame(con, "rule_pairs", pair_table)
    create_table(con, "rule_ingredients", "intermediate/int_rule_ingredients.sql", temp=True)
    create_table(
        con,
        "serotonergic_ingredients",
        "intermediate/int_serotonergic_ingredients.sql",
        {"serotonergic": None if serotonergic is None else sorted(serotonergic)},
        temp=True,
    )


def build_episodes(
    con: duckdb.DuckDBPyConnection, as_of: date, settings: EpisodeConfig, trace: bool = False
) -> dict[str, int]:
    """Cancel reversed claims, drop duplicates, combine same-day fills, place early refills
    (stockpiling) and merge fills into episodes per patient and ingredient. With `trace` the
    intermediate steps `fills` and `stockpiled_fills` are kept as session tables (an explanation reads
    them); otherwise they stream into the episode step (unless capped carry-over, done in Python, needs
    them stored)."""
    omop = settings.end_convention == "omop"
    create_macros(con, *MACROS)
    create_table(
        con, "cancelled_claims", "intermediate/int_cancelled_claims.sql", {"as_of": as_of}, temp=True
    )
    with joins_as_written(con):  # the hash table on the claims' ingredients (sql file's header)
        create_table(
            con,
            "claim_exposures",
            "intermediate/int_claim_exposures.sql",
            {"omop_end": omop, "as_of": as_of, "ongoing_max_days": settings.ongoing_max_days},
            temp=True,
        )
    replace_rows(con, "fill_exposure", "intermediate/int_fill_exposure.sql", {"same_day": settings.same_day})
    fill_params = {"omop_end": omop, "same_day": settings.same_day}
    # storing the two steps cost a sixth of the episode step (4.7M fills)
    streamed = {} if trace or settings.stockpiling == "capped" else dict(STEPS)
    if not streamed:
        create_table(con, "fills", STEPS["fills"], fill_params, temp=True)
        if settings.stockpiling == "capped":
            stockpiling.stockpile_capped(
                con, settings.stockpile_cap_days, settings.stockpile_max_overlap_percent
            )
        else:
            create_table(
                con,
                "stockpiled_fills",
                STEPS["stockpiled_fills"],
                {"stockpiling": settings.stockpiling, "omop_end": omop},
                temp=True,
            )
    grace_days, grace_percent = settings.effective_grace
    create_table(
        con,
        "episode_fills",
        "intermediate/int_episode_fills.sql",
        {
            "grace_days": grace_days,
            "grace_percent": grace_percent,
            "extension_days": settings.extension_days,
            "same_day": settings.same_day,
            "omop_end": omop,
            **({"stockpiling": settings.stockpiling} if streamed else {}),
        },
        temp=True,
        inputs=streamed,
    )
    replace_rows(
        con,
        "episodes",
        "intermediate/int_episodes.sql",
        {"extension_days": settings.extension_days, "min_episode_days": settings.min_episode_days},
    )
    if settings.min_episode_days > 1:  # every episode lasts at least a day
        run(con, "intermediate/int_episode_fills__drop_short.sql")
    counts = fetch_one(
        con,
        "analyses/episode_attrition.sql",
        {"as_of": as_of, **(fill_params if streamed else {})},
        inputs={"fills": STEPS["fills"]} if streamed else None,
    )
    assert counts is not None
    return counts


def find_burden(con: duckdb.DuckDBPyConnection, min_concurrent: int = 3) -> dict[str, int]:
    """Rebuild `serotonergic_burden`: periods with `min_concurrent` or more serotonergic ingredients."""
    replace_rows(
        con, "serotonergic_burden", "marts/serotonergic_burden.sql", {"min_concurrent": min_concurrent}
    )
    return {"burden_periods": count_rows(con, "serotonergic_burden")}


def find_interactions(
    con: duckdb.DuckDBPyConnection, interactions: InteractionConfig, episodes: EpisodeConfig
) -> dict[str, int]:
    """Rebuild `interactions` from the episodes and the registered rule pairs."""
    create_macros(con, "sorted_distinct")
    replace_rows(
        con,
        "interactions",
        "marts/interactions.sql",
        {"merge_gap_days": interactions.merge_gap_days, "extension_days": episodes.extension_days},
    )
    return interaction_counts(con)


def interaction_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """interactions_<kind>_<severity> -> number of interactions."""
    return {
        f"interactions_{kind}_{severity}": n
        for kind, severity, n in fetch(con, "analyses/interaction_counts.sql")
    }


def totals(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Warehouse-wide engine counts (after an incremental night, not just the recomputed patients')."""
    return {
        "episodes": count_rows(con, "episodes"),
        "burden_periods": count_rows(con, "serotonergic_burden"),
        **interaction_counts(con),
    }
