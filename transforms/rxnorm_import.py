"""A user's RxNorm release or OMOP vocabulary -> `ref_rxnorm`: which RxNorm codes hold which rule ingredients.

Two layouts, recognised by their files (in the folder given, or its `rrf/` subfolder as NLM's zip unpacks):

- **RxNorm release** (NLM, full or prescribable): `RXNCONSO.RRF` and `RXNREL.RRF`, pipe-delimited, no
  header, no quoting (NLM's RxNorm Technical Documentation). The concepts are the SAB=RXNORM atoms of the
  semantic term types (IN, PIN, MIN, SCDC, SCDF, SCDG, SCD, BN, SBDC, SBDF, SBDG, SBD, GPCK, BPCK, ...);
  a row of RXNREL reads "RXCUI2 has RELA to RXCUI1" (RXCUI1 = 36437 sertraline, RELA = has_ingredient,
  RXCUI2 = the SCDC "sertraline 50 MG").
- **OMOP vocabulary** (Athena download): `CONCEPT.csv` with `CONCEPT_ANCESTOR.csv` (each drug under its
  ingredients) or `CONCEPT_RELATIONSHIP.csv` (RxNorm's relationships under OMOP names), tab-delimited
  with a header (comma-delimited exports are read too). Only vocabulary RxNorm: its concept codes are
  RxCUIs (RxNorm Extension's are not).

Each code is walked towards its ingredients along the relationships that keep a product's ingredients:
a pack contains drugs, a branded drug is the trade name of a clinical drug and consists of branded
components, a clinical drug consists of components and has a multiple ingredient, a component, dose form
or dose-form group has its ingredients, a precise ingredient is a form of its ingredient, a multiple
ingredient has its parts. The brand name (BN) is never walked through: a brand's products differ ("Alka-
Seltzer Plus" products with and without dextromethorphan), so only a BN code itself maps to its
ingredients. Ingredients are the release's IN concepts whose code is an agent's RxCUI (agents.csv) or whose
name serosurv's name mapper reads as an agent ("lithium carbonate"). The route is the one the code's name
states, kept where it matters (transdermal selegiline, IV methylene blue).

With CONCEPT_RELATIONSHIP, the vocabulary's NDCs ("Maps to" from vocabulary NDC to an RxNorm drug) are
imported into `ref_ndc` as well (source omop_vocabulary), which maps NDCs of products no longer marketed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from serosurv.core.drugnames import map_rxnorm_name, route_in_name
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import RuleSet
from serosurv.core.warehouse import transaction
from transforms.sql import create_macros, fetch_frame, replace_rows

RXNORM_SOURCE = "rxnorm_release"
OMOP_SOURCE = "omop_vocabulary"

# RXNCONSO.RRF and RXNREL.RRF columns by position (NLM RxNorm Technical Documentation, 12.4 and 12.5).
CONSO_COLUMNS = {"rxcui": 0, "rxaui": 7, "sab": 11, "tty": 12, "name": 14}
REL_COLUMNS = {"rxcui1": 0, "rxaui1": 1, "rxcui2": 4, "rxaui2": 5, "rela": 7, "sab": 10}
SEMANTIC_TTYS = (
    "IN", "PIN", "MIN", "SCDC", "SCDF", "SCDFP", "SCDG", "SCDGP", "SCD", "BN", "SBDC", "SBDF", "SBDFP",
    "SBDG", "SBD", "GPCK", "BPCK",
)  # fmt: skip
# "RXCUI2 RELA RXCUI1" relationships from a code towards its ingredients.
TOWARDS_INGREDIENTS = (
    "has_ingredient",
    "has_precise_ingredient",
    "has_ingredients",
    "consists_of",
    "tradename_of",
    "contains",
    "form_of",
    "has_part",
    "quantified_form_of",
)
# OMOP concept classes of vocabulary RxNorm -> RxNorm term types.
OMOP_CLASSES = {
    "Ingredient": "IN",
    "Precise Ingredient": "PIN",
    "Multiple Ingredients": "MIN",
    "Clinical Drug Comp": "SCDC",
    "Clinical Drug Form": "SCDF",
    "Clinical Dose Group": "SCDG",
    "Clinical Drug": "SCD",
    "Quant Clinical Drug": "SCD",
    "Brand Name": "BN",
    "Branded Drug Comp": "SBDC",
    "Branded Drug Form": "SBDF",
    "Branded Dose Group": "SBDG",
    "Branded Drug": "SBD",
    "Quant Branded Drug": "SBD",
    "Clinical Pack": "GPCK",
    "Branded Pack": "BPCK",
}
# OMOP's names of the same relationships ("concept_id_1 relationship_id concept_id_2").
OMOP_TOWARDS_INGREDIENTS = (
    "RxNorm has ing",
    "Has precise ing",
    "Consists of",
    "Tradename of",
    "Contains",
    "Form of",
    "Quantified form of",
)


@dataclass(frozen=True)
class Release:
    layout: str  # rxnorm | omop
    files: dict[str, Path]


def find_release(path: Path) -> Release:
    """The layout of the folder `path` (or of the folder of a file in it), with its files."""
    folder = path if path.is_dir() else path.parent
    if not folder.is_dir():
        raise SerosurvError(
            f"{path} does not exist; give the folder of an RxNorm release or OMOP vocabulary."
        )
    for candidate in (folder, folder / "rrf"):
        found = _files(candidate, ("rxnconso.rrf", "rxnrel.rrf", "rxnsat.rrf"))
        if "rxnconso.rrf" in found and "rxnrel.rrf" in found:
            return Release("rxnorm", found)
    found = _files(folder, ("concept.csv", "concept_ancestor.csv", "concept_relationship.csv"))
    if "concept.csv" in found and ({"concept_ancestor.csv", "concept_relationship.csv"} & set(found)):
        return Release("omop", found)
    raise SerosurvError(
        f"{folder} holds neither an RxNorm release (RXNCONSO.RRF and RXNREL.RRF, there or in its rrf/ folder) nor "
        "an OMOP vocabulary (CONCEPT.csv with CONCEPT_ANCESTOR.csv or CONCEPT_RELATIONSHIP.csv); unzip the "
        "download and give its folder."
    )


def _files(folder: Path, names: tuple[str, ...]) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.name.lower(): p for p in sorted(folder.iterdir()) if p.is_file() and p.name.lower() in names}


def import_rxnorm_release(con: duckdb.DuckDBPyConnection, path: Path, ruleset: RuleSet) -> dict[str, object]:
    """Replace the rows of `ref_rxnorm` from this layout's source with the codes of the release at `path`
    that hold rule ingredients (and, from an OMOP vocabulary with CONCEPT_RELATIONSHIP, the rows of
    `ref_ndc` from its NDCs). Rows from other sources are kept. All or nothing. Returns counts: layout,
    source, folder, concepts_read, relationships_used (towards ingredients), ingredient_codes (the release's codes of rule ingredients),
    codes_mapped, ingredients, rows_written, ndcs_mapped (OMOP NDC concepts written to ref_ndc)."""
    release = find_release(Path(path))
    if release.layout == "rxnorm":
        concepts, links, ndcs = _read_rrf(release.files)
        source = RXNORM_SOURCE
    else:
        concepts, links, ndcs = _read_omop(release.files)
        source = OMOP_SOURCE
    seeds = _ingredient_codes(concepts, ruleset)
    frames = {"rxnorm_concepts": concepts, "rxnorm_links": links, "rxnorm_seeds": seeds, "release_ndcs": ndcs}
    for name, frame in frames.items():
        con.register(name, frame)
    try:
        reached = fetch_frame(con, "staging/stg_rxnorm_reach.sql")
        rows = _with_routes(reached, ruleset)
        con.register("rxnorm_rows", rows)
        create_macros(con, "normalise_ndc")
        ndc_rows = fetch_frame(con, "staging/stg_release_ndcs.sql")
        con.register("ndc_rows", ndc_rows)
        with transaction(con):
            replace_rows(con, "ref_rxnorm", "staging/stg_ref_rxnorm.sql", {"source": source}, key="source")
            if release.layout == "omop" and "concept_relationship.csv" in release.files:
                replace_rows(con, "ref_ndc", "staging/stg_ref_ndc.sql", {"source": source}, key="source")
    finally:
        for name in (*frames, "rxnorm_rows", "ndc_rows"):
            with contextlib.suppress(duckdb.Error):
                con.unregister(name)
    return {
        "layout": "RxNorm release" if release.layout == "rxnorm" else "OMOP vocabulary",
        "source": source,
        "folder": str(release.files[next(iter(release.files))].parent),
        "concepts_read": concepts.height,
        "relationships_used": links.height,
        "ingredient_codes": seeds.height,
        "codes_mapped": rows.get_column("rxcui").n_unique(),
        "ingredients": rows.get_column("ingredient").n_unique(),
        "rows_written": rows.height,
        "ndcs_mapped": ndc_rows.get_column("ndc").n_unique(),
    }


# ---------------------------------------------------------------------------- reading


def _scan(path: Path, separator: str, has_header: bool) -> pl.LazyFrame:
    return pl.scan_csv(
        path,
        separator=separator,
        has_header=has_header,
        quote_char=None if separator in ("|", "\t") else '"',
        infer_schema=False,
        truncate_ragged_lines=True,
        encoding="utf8-lossy",
    )


def _positional(path: Path, columns: dict[str, int]) -> pl.LazyFrame:
    """An RRF file's columns by position, checked: one sentence naming the file when it has too few."""
    scan = _scan(path, "|", has_header=False)
    names = list(scan.collect_schema())
    width = len(names)
    if width <= max(columns.values()):
        raise SerosurvError(
            f"{path} has {width} fields per line where an RxNorm RRF file has {max(columns.values()) + 1} or more; "
            "use the file as NLM publishes it (pipe-delimited, no header)."
        )
    return scan.select(
        [pl.col(names[i]).str.strip_chars().replace("", None).alias(name) for name, i in columns.items()]
    )


def _read_rrf(files: dict[str, Path]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    conso = _positional(files["rxnconso.rrf"], CONSO_COLUMNS).filter(pl.col("sab") == "RXNORM")
    atoms = conso.select("rxaui", "rxcui").collect(engine="streaming")
    concepts = (
        conso.filter(pl.col("tty").is_in(SEMANTIC_TTYS))
        .select("rxcui", "tty", "name")
        .unique(subset=["rxcui"], keep="first", maintain_order=True)
        .collect(engine="streaming")
    )
    rel = (
        _positional(files["rxnrel.rrf"], REL_COLUMNS)
        .filter((pl.col("sab") == "RXNORM") & pl.col("rela").is_in(TOWARDS_INGREDIENTS))
        .collect(engine="streaming")
    )
    # Relationships between atoms name the atoms only: their concepts come from RXNCONSO.
    by_atom = dict(zip(atoms.get_column("rxaui").to_list(), atoms.get_column("rxcui").to_list(), strict=True))
    links = rel.select(
        pl.coalesce("rxcui2", pl.col("rxaui2").replace_strict(by_atom, default=None)).alias("from_rxcui"),
        pl.coalesce("rxcui1", pl.col("rxaui1").replace_strict(by_atom, default=None)).alias("to_rxcui"),
    ).drop_nulls()
    ndcs = pl.DataFrame(schema={"ndc": pl.String, "rxcui": pl.String})
    return concepts, _drop_brand_targets(links, concepts), ndcs


def _header_separator(path: Path) -> str:
    with path.open("rb") as handle:
        first = handle.readline()
    return "\t" if b"\t" in first else ","


def _table(path: Path, required: tuple[str, ...]) -> pl.LazyFrame:
    scan = _scan(path, _header_separator(path), has_header=True)
    names = {name.strip().lower(): name for name in scan.collect_schema()}
    for column in required:
        if column not in names:
            raise SerosurvError(
                f"{path} has no column {column}; use the OMOP vocabulary table as Athena exports it (with its "
                "header row)."
            )
    return scan.select([pl.col(names[c]).str.strip_chars().replace("", None).alias(c) for c in required])


def _read_omop(files: dict[str, Path]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    concept = _table(
        files["concept.csv"],
        ("concept_id", "concept_name", "vocabulary_id", "concept_class_id", "concept_code"),
    )
    rxnorm = (
        concept.filter(pl.col("vocabulary_id") == "RxNorm")
        .select("concept_id", "concept_code", "concept_class_id", "concept_name")
        .collect(engine="streaming")
    )
    code_of = dict(
        zip(
            rxnorm.get_column("concept_id").to_list(),
            rxnorm.get_column("concept_code").to_list(),
            strict=True,
        )
    )
    concepts = rxnorm.select(
        pl.col("concept_code").alias("rxcui"),
        pl.col("concept_class_id").replace_strict(OMOP_CLASSES, default=None).alias("tty"),
        pl.col("concept_name").alias("name"),
    ).unique(subset=["rxcui"], keep="first", maintain_order=True)
    ids = list(code_of)
    pairs: list[pl.DataFrame] = []
    if "concept_ancestor.csv" in files:
        ancestor = _table(files["concept_ancestor.csv"], ("ancestor_concept_id", "descendant_concept_id"))
        pairs.append(
            ancestor.filter(
                pl.col("ancestor_concept_id").is_in(ids)
                & pl.col("descendant_concept_id").is_in(ids)
                & (pl.col("ancestor_concept_id") != pl.col("descendant_concept_id"))
            )
            .select(
                pl.col("descendant_concept_id").alias("from_id"), pl.col("ancestor_concept_id").alias("to_id")
            )
            .collect(engine="streaming")
        )
    ndcs = pl.DataFrame(schema={"ndc": pl.String, "rxcui": pl.String})
    if "concept_relationship.csv" in files:
        relationship = _table(
            files["concept_relationship.csv"],
            ("concept_id_1", "concept_id_2", "relationship_id", "invalid_reason"),
        ).filter(pl.col("invalid_reason").is_null())
        pairs.append(
            relationship.filter(
                pl.col("relationship_id").is_in(OMOP_TOWARDS_INGREDIENTS)
                & pl.col("concept_id_1").is_in(ids)
                & pl.col("concept_id_2").is_in(ids)
            )
            .select(pl.col("concept_id_1").alias("from_id"), pl.col("concept_id_2").alias("to_id"))
            .collect(engine="streaming")
        )
        ndc_concepts = (
            concept.filter(pl.col("vocabulary_id") == "NDC")
            .select(pl.col("concept_id"), pl.col("concept_code").alias("ndc"))
            .collect(engine="streaming")
        )
        maps_to = (
            relationship.filter((pl.col("relationship_id") == "Maps to") & pl.col("concept_id_2").is_in(ids))
            .select("concept_id_1", "concept_id_2")
            .collect(engine="streaming")
        )
        ndcs = (
            ndc_concepts.join(maps_to, left_on="concept_id", right_on="concept_id_1", how="inner")
            .select("ndc", pl.col("concept_id_2").replace_strict(code_of, default=None).alias("rxcui"))
            .drop_nulls()
            .unique()
        )
    links = (
        pl.concat(pairs)
        .select(
            pl.col("from_id").replace_strict(code_of, default=None).alias("from_rxcui"),
            pl.col("to_id").replace_strict(code_of, default=None).alias("to_rxcui"),
        )
        .drop_nulls()
        .unique()
    )
    return concepts, _drop_brand_targets(links, concepts), ndcs


def _drop_brand_targets(links: pl.DataFrame, concepts: pl.DataFrame) -> pl.DataFrame:
    """No walk passes through a brand name (a branded drug "has ingredient" its BN in RxNorm's terms)."""
    brands = concepts.filter(pl.col("tty") == "BN").get_column("rxcui")
    return links.filter(~pl.col("to_rxcui").is_in(brands.implode())).unique()


# ---------------------------------------------------------------------------- ingredients and routes


def _ingredient_codes(concepts: pl.DataFrame, ruleset: RuleSet) -> pl.DataFrame:
    """(rxcui, ingredient): the release's ingredient concepts that are rule agents, by the agent's RxCUI or
    by name ("lithium carbonate" is lithium)."""
    by_rxcui = {a.rxcui: a.ingredient for a in ruleset.agents.values() if a.rxcui}
    rows = set()
    for rxcui, name in concepts.filter(pl.col("tty") == "IN").select("rxcui", "name").iter_rows():
        if rxcui in by_rxcui:
            rows.add((rxcui, by_rxcui[rxcui]))
        for ingredient, _ in map_rxnorm_name(name or "", ruleset):
            rows.add((rxcui, ingredient))
    return pl.DataFrame(sorted(rows), schema={"rxcui": pl.String, "ingredient": pl.String}, orient="row")


def _with_routes(reached: pl.DataFrame, ruleset: RuleSet) -> pl.DataFrame:
    """The walk's (rxcui, ingredient, tty, name) with the route the name states where it matters."""
    tracked = {a.ingredient: a.routes_that_matter for a in ruleset.agents.values()}
    routes = [
        route if (route := route_in_name(name or "")) in tracked.get(ingredient, ()) else None
        for ingredient, name in reached.select("ingredient", "name").iter_rows()
    ]
    return reached.with_columns(pl.Series("route", routes, dtype=pl.String))
