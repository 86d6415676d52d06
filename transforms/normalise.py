"""Drug normalisation: every claim to its active ingredients (`fill_ingredients`), and what stayed unmapped."""

from __future__ import annotations

import duckdb
import polars as pl

from serosurv.drugnames import map_drug_name, map_rxcui
from serosurv.rules import RuleSet
from serosurv.warehouse import rows
from transforms.sql import sql_text


def _name_map(con: duckdb.DuckDBPyConnection, ruleset: RuleSet) -> pl.DataFrame:
    # Names are few (thousands) even for 100M claims: map the distinct ones in Python, join in SQL.
    names = [r[0] for r in rows(con, "SELECT DISTINCT drug_name FROM claims WHERE drug_name IS NOT NULL")]
    mapped = [
        (name, ingredient, route) for name in names for ingredient, route in map_drug_name(name, ruleset)
    ]
    return pl.DataFrame(
        mapped, schema={"drug_name": pl.String, "ingredient": pl.String, "route": pl.String}, orient="row"
    )


def _rxcui_map(con: duckdb.DuckDBPyConnection, ruleset: RuleSet) -> pl.DataFrame:
    codes = [r[0] for r in rows(con, "SELECT DISTINCT rxcui FROM claims WHERE rxcui IS NOT NULL")]
    mapped = [(code, ingredient) for code in codes if (ingredient := map_rxcui(code, ruleset))]
    return pl.DataFrame(mapped, schema={"rxcui": pl.String, "ingredient": pl.String}, orient="row")


def map_ingredients(con: duckdb.DuckDBPyConnection, ruleset: RuleSet, run_id: str) -> dict[str, int]:
    """Rebuild `fill_ingredients` for all claims and list this night's unmapped drugs."""
    map_name = _name_map(con, ruleset)
    map_rx = _rxcui_map(con, ruleset)
    default_routes = pl.DataFrame(
        list(ruleset.default_routes().items()),
        schema={"ingredient": pl.String, "route": pl.String},
        orient="row",
    )
    con.register("map_name", map_name)
    con.register("map_rxcui", map_rx)
    con.register("default_routes", default_routes)
    try:
        con.execute("DELETE FROM fill_ingredients")
        con.execute(
            f"INSERT INTO fill_ingredients BY NAME {sql_text('intermediate/int_fill_ingredients.sql')}"
        )
    finally:
        con.unregister("map_name")
        con.unregister("map_rxcui")
        con.unregister("default_routes")
    con.execute("DELETE FROM unmapped_drugs WHERE run_id = $run_id", {"run_id": run_id})
    con.execute(
        f"INSERT INTO unmapped_drugs BY NAME {sql_text('marts/unmapped_drugs.sql')}", {"run_id": run_id}
    )
    by_source = dict(
        rows(con, "SELECT mapped_by, count(DISTINCT claim_id) FROM fill_ingredients GROUP BY ALL")
    )
    unmapped = rows(
        con, "SELECT coalesce(sum(fills), 0) FROM unmapped_drugs WHERE run_id = $r", {"r": run_id}
    )
    mapped = {"claims_mapped_by_" + k: v for k, v in sorted(by_source.items())}
    return {**mapped, "claims_unmapped": int(unmapped[0][0])}
