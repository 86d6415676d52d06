"""Drug normalisation: every claim to its active ingredients (`fill_ingredients`), what was matched only
approximately (`approximate_names`), and what stayed unmapped (`unmapped_drugs`)."""

from __future__ import annotations

import duckdb
import polars as pl

from serosurv.core.drugnames import agent_words, map_drug_name, map_rxcui, unknown_words
from serosurv.core.rules import RuleSet
from transforms.sql import fetch, fetch_frame, fetch_value, replace_rows

NAME_MAP_SCHEMA = {
    "drug_name": pl.String,
    "ingredient": pl.String,
    "route": pl.String,
    "mapped_by": pl.String,
}


def _name_map(con: duckdb.DuckDBPyConnection, ruleset: RuleSet) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every distinct drug name to its ingredients: exactly (`name`), else approximately (`name_approx`,
    a misspelt or foreign form of an agent or brand). Names are few (thousands) even for 100M claims:
    they are mapped once here and joined in SQL."""
    names = [r[0] for r in fetch(con, "analyses/claim_drug_names.sql")]
    mapped, unmatched = [], []
    for name in names:
        found = map_drug_name(name, ruleset)
        mapped.extend((name, ingredient, route, "name") for ingredient, route in found)
        if not found:
            unmatched.append(name)
    approximate = _approximate(con, ruleset, unmatched)
    for name, ingredients, route in (
        approximate.select("drug_name", "ingredients", "route").unique().iter_rows()
    ):
        mapped.extend((name, ingredient, route, "name_approx") for ingredient in ingredients.split(";"))
    return pl.DataFrame(mapped, schema=NAME_MAP_SCHEMA, orient="row").unique(), approximate


def _approximate(con: duckdb.DuckDBPyConnection, ruleset: RuleSet, names: list[str]) -> pl.DataFrame:
    """(drug_name, word, matched_name, ingredients, route, distance) for names with a word one or two
    edits from an agent or brand (sql/intermediate/int_approximate_words.sql, registered as
    `approximate_words` for sql/marts/approximate_names.sql)."""
    words = pl.DataFrame(
        [(name, word) for name in names for word in unknown_words(name)],
        schema={"drug_name": pl.String, "word": pl.String},
        orient="row",
    )
    vocabulary = pl.DataFrame(
        agent_words(ruleset),
        schema={"name": pl.String, "ingredients": pl.String, "route": pl.String},
        orient="row",
    )
    con.register("name_words", words)
    con.register("agent_words", vocabulary)
    try:
        return fetch_frame(con, "intermediate/int_approximate_words.sql")
    finally:
        con.unregister("name_words")
        con.unregister("agent_words")


def _rxcui_map(con: duckdb.DuckDBPyConnection, ruleset: RuleSet) -> pl.DataFrame:
    codes = [r[0] for r in fetch(con, "analyses/claim_rxcuis.sql")]
    mapped = [(code, ingredient) for code in codes if (ingredient := map_rxcui(code, ruleset))]
    return pl.DataFrame(mapped, schema={"rxcui": pl.String, "ingredient": pl.String}, orient="row")


def map_ingredients(con: duckdb.DuckDBPyConnection, ruleset: RuleSet, run_id: str) -> dict[str, int]:
    """Rebuild `fill_ingredients` for all claims and list this night's approximate and unmapped drugs."""
    map_name, approximate = _name_map(con, ruleset)
    map_rx = _rxcui_map(con, ruleset)
    default_routes = pl.DataFrame(
        list(ruleset.default_routes().items()),
        schema={"ingredient": pl.String, "route": pl.String},
        orient="row",
    )
    con.register("map_name", map_name)
    con.register("map_rxcui", map_rx)
    con.register("default_routes", default_routes)
    con.register("approximate_words", approximate)
    try:
        replace_rows(con, "fill_ingredients", "intermediate/int_fill_ingredients.sql")
        replace_rows(
            con, "approximate_names", "marts/approximate_names.sql", {"run_id": run_id}, key="run_id"
        )
    finally:
        con.unregister("map_name")
        con.unregister("map_rxcui")
        con.unregister("default_routes")
        con.unregister("approximate_words")
    replace_rows(con, "unmapped_drugs", "marts/unmapped_drugs.sql", {"run_id": run_id}, key="run_id")
    by_source = dict(fetch(con, "analyses/claims_mapped_by_source.sql"))
    unmapped = fetch_value(con, "analyses/unmapped_fills.sql", {"run_id": run_id})
    mapped = {"claims_mapped_by_" + k: v for k, v in sorted(by_source.items())}
    return {**mapped, "claims_unmapped": int(unmapped)}
