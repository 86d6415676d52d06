"""The RxNorm crosswalks shipped in rules/rxnorm/: drug codes -> rule ingredients, with no import.

- `rxcui_ingredients.csv.gz` (rxcui, tty, name, ingredient, route, basis): every RxNorm code known for a
  rule ingredient (ingredients, precise and multiple ingredients, clinical and branded drugs, their
  components and dose-form groups, generic and branded packs, brand names) -> the rule ingredient(s) it
  contains, one row per (code, ingredient); the route where it changes the risk.
- `ndc_ingredients.csv.gz` (ndc, rxcui, ingredient, route): the 11-digit NDCs of those products.
- `ndc_lookalikes.csv.gz` (ndc, rxcui, name): NDCs of products *without* a rule ingredient whose 10 digits
  written without hyphens are also those of a rule NDC (a 10-digit NDC matching both is ambiguous).

They are built from NLM's RxNorm by tools/rxnorm_crosswalks.py (rules/rxnorm/README.md says how and from
what) and are part of the rules: they are hashed into the rules hash, so a night after they changed
recomputes everyone. A rules folder of one's own ([rules] directory) may carry its own rxnorm/ files; where
it has none, the shipped ones are used. Rows naming an ingredient that is not an agent of the rule set
are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from serosurv.core.errors import SerosurvError

if TYPE_CHECKING:  # the rules module does not import this one at import time
    from serosurv.core.rules import RuleSet

RXCUI_FILE = "rxnorm/rxcui_ingredients.csv.gz"
NDC_FILE = "rxnorm/ndc_ingredients.csv.gz"
LOOKALIKES_FILE = "rxnorm/ndc_lookalikes.csv.gz"
CROSSWALK_FILES = (RXCUI_FILE, NDC_FILE, LOOKALIKES_FILE)

RXCUI_SCHEMA = {
    "rxcui": pl.String,
    "tty": pl.String,
    "name": pl.String,
    "ingredient": pl.String,
    "route": pl.String,
    "basis": pl.String,
}
NDC_SCHEMA = {"ndc": pl.String, "rxcui": pl.String, "ingredient": pl.String, "route": pl.String}
LOOKALIKES_SCHEMA = {"ndc": pl.String, "rxcui": pl.String, "name": pl.String}
_SCHEMAS = {RXCUI_FILE: RXCUI_SCHEMA, NDC_FILE: NDC_SCHEMA, LOOKALIKES_FILE: LOOKALIKES_SCHEMA}


def crosswalk_path(rules_dir: Path | None, name: str) -> Path:
    """The crosswalk file `name` (e.g. RXCUI_FILE) of a rules folder, else the shipped one."""
    from serosurv.core.resources import data_dir

    if rules_dir is not None and (Path(rules_dir) / name).is_file():
        return Path(rules_dir) / name
    return data_dir("rules") / name


def read_crosswalk(path: Path, name: str) -> pl.DataFrame:
    """A crosswalk file as strings (empty strings as nulls); one sentence naming the file when it is not
    one."""
    schema = _SCHEMAS[name]
    if not path.is_file():
        raise SerosurvError(f"{path} is missing; restore it from the repository's rules/rxnorm/ folder.")
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SerosurvError(
            f"{path} cannot be read as a gzip-compressed CSV ({first_line}); rebuild it with "
            "tools/rxnorm_crosswalks.py or restore it from the repository's rules/rxnorm/ folder."
        ) from None
    missing = [column for column in schema if column not in frame.columns]
    if missing:
        raise SerosurvError(
            f"{path} has no column {missing[0]}; rebuild it with tools/rxnorm_crosswalks.py (columns: "
            f"{', '.join(schema)})."
        )
    return frame.select(
        [pl.col(column).cast(pl.String).str.strip_chars().replace("", None) for column in schema]
    )


def shipped_rxcui(ruleset: RuleSet) -> pl.DataFrame:
    """(rxcui, ingredient, route, tty, name) of the RxNorm code crosswalk, for the rule set's agents; a route
    only for ingredients whose route matters."""
    frame = _for_agents(read_crosswalk(crosswalk_path(ruleset.directory, RXCUI_FILE), RXCUI_FILE), ruleset)
    return frame.select("rxcui", "ingredient", "route", "tty", "name")


def shipped_ndc(ruleset: RuleSet) -> pl.DataFrame:
    """(ndc, ingredient, route, rxcui) of the NDC crosswalk, for the rule set's agents."""
    frame = _for_agents(read_crosswalk(crosswalk_path(ruleset.directory, NDC_FILE), NDC_FILE), ruleset)
    return frame.select("ndc", "ingredient", "route", "rxcui")


def ndc_lookalikes(ruleset: RuleSet) -> pl.DataFrame:
    """(ndc) of products without a rule ingredient that a 10-digit NDC of a rule product may also be."""
    frame = read_crosswalk(crosswalk_path(ruleset.directory, LOOKALIKES_FILE), LOOKALIKES_FILE)
    return frame.select("ndc").unique().sort("ndc")


def _for_agents(frame: pl.DataFrame, ruleset: RuleSet) -> pl.DataFrame:
    tracked = [
        (agent.ingredient, route) for agent in ruleset.agents.values() for route in agent.routes_that_matter
    ]
    tracked_routes = pl.DataFrame(tracked, schema={"ingredient": pl.String, "route": pl.String}, orient="row")
    agents = frame.filter(pl.col("ingredient").is_in(list(ruleset.agents)))
    # A route only where the rule set says it matters (the file may name one for others).
    kept = agents.join(
        tracked_routes.with_columns(tracked=pl.lit(True)), on=["ingredient", "route"], how="left"
    )
    return kept.with_columns(
        route=pl.when(pl.col("tracked")).then(pl.col("route")).otherwise(pl.lit(None, dtype=pl.String))
    ).drop("tracked")
