"""Drug normalisation: every claim to its active ingredients (`fill_ingredients`), what was matched only
approximately (`approximate_names`), and what stayed unmapped (`unmapped_drugs`).

A claim is mapped by its NDC, else its RxNorm code, else its drug name, decided once per distinct drug
(`product_ingredients`, sql/intermediate/int_product_ingredients.sql) and joined to every claim
(sql/intermediate/int_fill_ingredients.sql). Codes map through crosswalks: the user's imports in the warehouse (`ref_ndc`,
`ref_rxnorm`: serosurv reference import-ndc / import-rxnorm) and, for every code they do not hold, the
crosswalks shipped in rules/rxnorm/ (serosurv.core.crosswalks), so NDCs and RxNorm codes map with no import.
"""

from __future__ import annotations

import duckdb
import polars as pl

from serosurv.core.crosswalks import ndc_lookalikes, shipped_ndc, shipped_rxcui
from serosurv.core.drugnames import agent_words, map_drug_name, unknown_words
from serosurv.core.rules import RuleSet
from transforms.sql import (
    create_macros,
    create_table,
    drop_tables,
    fetch,
    fetch_frame,
    fetch_one,
    fetch_value,
    replace_rows,
)

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
    return name_words_against_agents(con, ruleset, names, "intermediate/int_approximate_words.sql")


def name_words_against_agents(
    con: duckdb.DuckDBPyConnection, ruleset: RuleSet, names: list[str], query: str
) -> pl.DataFrame:
    """`query` run with the unknown words of `names` registered as name_words (drug_name, word) and the
    rule agents' and brands' names as agent_words (name, ingredients, route)."""
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
        return fetch_frame(con, query)
    finally:
        con.unregister("name_words")
        con.unregister("agent_words")


def create_code_crosswalks(con: duckdb.DuckDBPyConnection, ruleset: RuleSet) -> None:
    """The code crosswalks as session tables: `ndc_crosswalk` and `rxcui_crosswalk` (the warehouse's imports
    first, then the crosswalks shipped in rules/rxnorm/, then the agents' own ingredient codes) and
    `ten_digit_ndcs` (the claims' 10-digit NDCs, each with the one 11-digit NDC it is, if any)."""
    agent_rxcuis = pl.DataFrame(
        [(a.rxcui, a.ingredient) for a in ruleset.agents.values() if a.rxcui],
        schema={"rxcui": pl.String, "ingredient": pl.String},
        orient="row",
    )
    frames = {
        "shipped_ndc": shipped_ndc(ruleset),
        "shipped_rxcui": shipped_rxcui(ruleset),
        "ndc_lookalikes": ndc_lookalikes(ruleset),
        "agent_rxcuis": agent_rxcuis,
    }
    for name, frame in frames.items():
        con.register(name, frame)
    try:
        create_macros(con, "normalise_ndc", "ndc_candidates")
        create_table(con, "ndc_crosswalk", "intermediate/int_ndc_crosswalk.sql", temp=True)
        create_table(con, "rxcui_crosswalk", "intermediate/int_rxcui_crosswalk.sql", temp=True)
        create_table(con, "ten_digit_ndcs", "intermediate/int_ten_digit_ndcs.sql", temp=True)
    finally:
        for name in frames:
            con.unregister(name)


CROSSWALK_TABLES = ("ndc_crosswalk", "rxcui_crosswalk", "ten_digit_ndcs")


def map_ingredients(con: duckdb.DuckDBPyConnection, ruleset: RuleSet, run_id: str) -> dict[str, int]:
    """Rebuild `fill_ingredients` for all claims (an incremental night shows only its own) from the session
    table `product_ingredients` (each distinct drug of the claims and its ingredients), record how this
    night's fills mapped per source file and field (`night_mapping`, sql/marts/night_mapping.sql) and list
    this night's approximate and unmapped drugs. Returns this night's counts: the claims that carry an NDC, an
    RxNorm code, a name, how many each mapped (claims_with_<field>, claims_mapped_by_<field>), the 10-digit
    and ambiguous NDCs, and the claims nothing mapped."""
    map_name, approximate = _name_map(con, ruleset)
    default_routes = pl.DataFrame(
        list(ruleset.default_routes().items()),
        schema={"ingredient": pl.String, "route": pl.String},
        orient="row",
    )
    create_code_crosswalks(con, ruleset)
    con.register("map_name", map_name)
    con.register("default_routes", default_routes)
    con.register("approximate_words", approximate)
    try:
        create_table(con, "product_ingredients", "intermediate/int_product_ingredients.sql", temp=True)
        replace_rows(con, "fill_ingredients", "intermediate/int_fill_ingredients.sql")
        replace_rows(
            con, "approximate_names", "marts/approximate_names.sql", {"run_id": run_id}, key="run_id"
        )
        replace_rows(con, "night_mapping", "marts/night_mapping.sql", {"run_id": run_id}, key="run_id")
        counts = fetch_one(con, "analyses/night_mapping_counts.sql", {"run_id": run_id}) or {}
    finally:
        con.unregister("map_name")
        con.unregister("default_routes")
        con.unregister("approximate_words")
        drop_tables(con, *CROSSWALK_TABLES)
    replace_rows(con, "unmapped_drugs", "marts/unmapped_drugs.sql", {"run_id": run_id}, key="run_id")
    drop_tables(con, "product_ingredients")
    unmapped = fetch_value(con, "analyses/unmapped_fills.sql", {"run_id": run_id})
    return {**{k: int(v or 0) for k, v in counts.items()}, "claims_unmapped": int(unmapped)}
