"""Episodes and interactions: the engine, from accepted claims to `interactions` (all SQL in sql/)."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from serosurv.core.config import EpisodeConfig, InteractionConfig
from serosurv.core.warehouse import rows
from transforms import stockpiling
from transforms.sql import sql_text


def register_rules(
    con: duckdb.DuckDBPyConnection, pair_table: pl.DataFrame, serotonergic: frozenset[str] | None = None
) -> None:
    """Make the winning rule per ingredient pair, and the ingredients rules name, visible to SQL.

    `serotonergic` are the ingredients that count toward serotonergic burden (default: every rule
    ingredient)."""
    con.register("pair_table_rows", pair_table)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE rule_pairs AS SELECT * FROM pair_table_rows")
    finally:
        con.unregister("pair_table_rows")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rule_ingredients AS "
        "SELECT ingredient_a AS ingredient FROM rule_pairs UNION SELECT ingredient_b FROM rule_pairs"
    )
    con.execute("CREATE OR REPLACE TEMP TABLE serotonergic_ingredients (ingredient VARCHAR)")
    if serotonergic is None:
        con.execute("INSERT INTO serotonergic_ingredients SELECT ingredient FROM rule_ingredients")
    else:
        con.executemany(
            "INSERT INTO serotonergic_ingredients VALUES (?)", [[i] for i in sorted(serotonergic)]
        )


def build_episodes(con: duckdb.DuckDBPyConnection, as_of: date, settings: EpisodeConfig) -> dict[str, int]:
    """Cancel reversed claims, drop duplicates, combine same-day fills, place early refills
    (stockpiling) and merge fills into episodes per patient and ingredient."""
    omop = settings.end_convention == "omop"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE candidate_claims AS {sql_text('intermediate/int_candidate_claims.sql')}",
        {"as_of": as_of},
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE active_claims AS {sql_text('intermediate/int_active_claims.sql')}"
    )
    con.execute("DELETE FROM fill_exposure")
    con.execute(
        f"INSERT INTO fill_exposure BY NAME {sql_text('intermediate/int_fill_exposure.sql')}",
        {"omop_end": omop, "same_day": settings.same_day},
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE fills AS {sql_text('intermediate/int_fills.sql')}",
        {"omop_end": omop, "same_day": settings.same_day},
    )
    if settings.stockpiling == "capped":
        stockpiling.stockpile_capped(con, settings.stockpile_cap_days, settings.stockpile_max_overlap_percent)
    else:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE stockpiled_fills AS {sql_text('intermediate/int_fills_stockpiled.sql')}",
            {"stockpiling": settings.stockpiling, "omop_end": omop},
        )
    grace_days, grace_percent = settings.effective_grace
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE episode_fills AS {sql_text('intermediate/int_episode_fills.sql')}",
        {"grace_days": grace_days, "grace_percent": grace_percent, "extension_days": settings.extension_days},
    )
    con.execute("DELETE FROM episodes")
    con.execute(
        f"INSERT INTO episodes BY NAME {sql_text('intermediate/int_episodes.sql')}",
        {"extension_days": settings.extension_days, "min_episode_days": settings.min_episode_days},
    )
    # Episodes shorter than the minimum are gone: so are their fills, for the interaction step.
    con.execute("DELETE FROM episode_fills WHERE episode_id NOT IN (SELECT episode_id FROM episodes)")
    (counts,) = rows(
        con,
        """
        SELECT
            (SELECT count(*) FROM candidate_claims WHERE claim_status = 'reversed'),
            (SELECT count(*) FROM candidate_claims WHERE claim_status IN ('paid', 'adjusted'))
              - (SELECT count(*) FROM active_claims),
            (SELECT count(*) FROM active_claims JOIN fill_ingredients USING (claim_id)
              WHERE ingredient IN (SELECT ingredient FROM rule_ingredients)) - (SELECT count(*) FROM fill_exposure),
            (SELECT count(*) FROM fill_exposure) - (SELECT count(*) FROM fills),
            (SELECT count(*) FROM fill_exposure),
            (SELECT count(*) FROM episodes)
        """,
    )
    names = (
        "reversal_claims", "claims_cancelled", "duplicate_fills_dropped", "same_day_fills_combined",
        "fills_used", "episodes",
    )  # fmt: skip
    return dict(zip(names, counts, strict=True))


def find_burden(con: duckdb.DuckDBPyConnection, min_concurrent: int = 3) -> dict[str, int]:
    """Rebuild `serotonergic_burden`: periods with `min_concurrent` or more serotonergic ingredients."""
    con.execute("DELETE FROM serotonergic_burden")
    con.execute(
        f"INSERT INTO serotonergic_burden BY NAME {sql_text('marts/serotonergic_burden.sql')}",
        {"min_concurrent": min_concurrent},
    )
    return {"burden_periods": rows(con, "SELECT count(*) FROM serotonergic_burden")[0][0]}


def find_interactions(
    con: duckdb.DuckDBPyConnection, interactions: InteractionConfig, episodes: EpisodeConfig
) -> dict[str, int]:
    """Rebuild `interactions` from the episodes and the registered rule pairs."""
    con.execute("DELETE FROM interactions")
    con.execute(
        f"INSERT INTO interactions BY NAME {sql_text('marts/interactions.sql')}",
        {"merge_gap_days": interactions.merge_gap_days, "extension_days": episodes.extension_days},
    )
    return {
        f"interactions_{kind}_{severity}": n
        for kind, severity, n in rows(
            con, "SELECT kind, severity, count(*) FROM interactions GROUP BY ALL ORDER BY ALL"
        )
    }


def totals(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Warehouse-wide engine counts (after an incremental night, not just the recomputed patients')."""
    counts = {
        "episodes": rows(con, "SELECT count(*) FROM episodes")[0][0],
        "burden_periods": rows(con, "SELECT count(*) FROM serotonergic_burden")[0][0],
    }
    for kind, severity, n in rows(
        con, "SELECT kind, severity, count(*) FROM interactions GROUP BY ALL ORDER BY ALL"
    ):
        counts[f"interactions_{kind}_{severity}"] = n
    return counts
