"""Episodes and interactions: the engine, from accepted claims to `interactions` (all SQL in sql/)."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from serosurv.config import EpisodeConfig, InteractionConfig
from serosurv.warehouse import rows
from transforms.sql import sql_text


def register_rules(con: duckdb.DuckDBPyConnection, pair_table: pl.DataFrame) -> None:
    """Make the winning rule per ingredient pair, and the ingredients rules name, visible to SQL."""
    con.execute("CREATE OR REPLACE TEMP TABLE rule_pairs AS SELECT * FROM pair_table")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rule_ingredients AS "
        "SELECT ingredient_a AS ingredient FROM rule_pairs UNION SELECT ingredient_b FROM rule_pairs"
    )


def build_episodes(con: duckdb.DuckDBPyConnection, as_of: date, settings: EpisodeConfig) -> dict[str, int]:
    """Cancel reversed claims, drop duplicates, and merge fills into episodes per patient and ingredient."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE active_claims AS {sql_text('intermediate/int_active_claims.sql')}",
        {"as_of": as_of},
    )
    con.execute("DELETE FROM fill_exposure")
    con.execute(f"INSERT INTO fill_exposure BY NAME {sql_text('intermediate/int_fill_exposure.sql')}")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE episode_fills AS {sql_text('intermediate/int_episode_fills.sql')}",
        {"grace_days": settings.grace_days, "grace_percent": settings.grace_percent},
    )
    con.execute("DELETE FROM episodes")
    con.execute(
        f"INSERT INTO episodes BY NAME {sql_text('intermediate/int_episodes.sql')}",
        {"extension_days": settings.extension_days, "min_episode_days": settings.min_episode_days},
    )
    (counts,) = rows(
        con,
        """
        SELECT
            (SELECT count(*) FROM claims WHERE fill_date <= $as_of AND claim_status = 'reversed'),
            (SELECT count(*) FROM claims WHERE fill_date <= $as_of AND claim_status IN ('paid', 'adjusted'))
              - (SELECT count(*) FROM active_claims),
            (SELECT count(*) FROM active_claims JOIN fill_ingredients USING (claim_id)
              WHERE ingredient IN (SELECT ingredient FROM rule_ingredients)) - (SELECT count(*) FROM fill_exposure),
            (SELECT count(*) FROM fill_exposure),
            (SELECT count(*) FROM episodes)
        """,
        {"as_of": as_of},
    )
    names = ("reversal_claims", "claims_cancelled", "duplicate_fills_dropped", "fills_used", "episodes")
    return dict(zip(names, counts, strict=True))


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
