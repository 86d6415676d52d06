"""NDC crosswalks a user imports -> `ref_ndc`: which package NDCs contain which rule-set ingredients.

NDCs map with no import through the crosswalk shipped in rules/rxnorm/ (serosurv.core.crosswalks); an
import adds NDCs it does not know (newer products, or older ones) and decides the NDCs it holds. Two
sources: the FDA NDC Directory (below) and a CSV of NDCs with their RxNorm code or ingredient
(`import_ndc_csv`).

The FDA NDC Directory:

Reads `product.txt` and `package.txt` exactly as FDA publishes them (the "NDC database file - text
version": tab-delimited, one header row, no quoting, Windows-1252 in practice). Each product's
SUBSTANCENAME parts are mapped to agent ingredients with the same name mapper the nightly run uses; the
route is kept only for ingredients whose route changes the risk (agents.csv `routes_that_matter`), from
ROUTENAME first, then a route-fixing name (Emsam, ProvayBlue), then DOSAGEFORMNAME. Every package of a
mapped product gives one `ref_ndc` row per ingredient, its NDC normalised to 11 digits.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from serosurv.core.drugnames import map_drug_name
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import RuleSet
from serosurv.core.warehouse import transaction
from transforms.sql import create_macros, drop_tables, fetch, replace_rows

SOURCE = "fda_ndc_directory"
PRODUCT_FILE = "product.txt"
PACKAGE_FILE = "package.txt"
PRODUCT_COLUMNS = (
    "PRODUCTID",
    "PRODUCTNDC",
    "PROPRIETARYNAME",
    "PROPRIETARYNAMESUFFIX",
    "NONPROPRIETARYNAME",
    "DOSAGEFORMNAME",
    "ROUTENAME",
    "SUBSTANCENAME",
)
PACKAGE_COLUMNS = ("PRODUCTID", "NDCPACKAGECODE")

# FDA route names (ROUTENAME, "; "-separated) and dose-form words -> the routes rules can depend on.
# Checked in this order: the most specific / riskiest route wins when a product lists several.
_FDA_ROUTES = {
    "transdermal": frozenset({"TRANSDERMAL"}),
    "iv": frozenset({"INTRAVENOUS"}),
    "oral": frozenset({"ORAL"}),
}
_DOSAGE_FORM_WORDS = {
    "transdermal": ("PATCH", "TRANSDERMAL"),
    "iv": ("INTRAVENOUS",),
    "oral": ("TABLET", "CAPSULE", "ORAL", "ELIXIR", "SYRUP"),
}


def import_ndc_directory(con: duckdb.DuckDBPyConnection, directory: Path, ruleset: RuleSet) -> dict[str, int]:
    """Replace the FDA NDC Directory rows of `ref_ndc` with those found in `directory`.

    Rows from other sources are left alone. All or nothing: a failure leaves `ref_ndc` as it was.
    Returns counts: products_read, packages_read, packages_mapped (packages with at least one agent
    ingredient), ingredients (distinct agent ingredients found), rows_written, and
    packages_without_valid_ndc (packages of mapped products whose code is not a hyphenated NDC).
    """
    directory = Path(directory)
    products = _read_fda_file(directory / PRODUCT_FILE, PRODUCT_COLUMNS)
    packages = _read_fda_file(directory / PACKAGE_FILE, PACKAGE_COLUMNS)

    product_ingredients = _map_products(products, ruleset)
    mapped_packages = packages.select("PRODUCTID", "NDCPACKAGECODE").join(
        product_ingredients, on="PRODUCTID", how="inner"
    )
    # normalise_ndc (the macro validation uses) runs once per distinct code of a mapped package, not over
    # the whole directory.
    codes = mapped_packages.get_column("NDCPACKAGECODE").unique().drop_nulls().to_list()
    create_macros(con, "normalise_ndc")
    ndc_by_code = dict(fetch(con, "analyses/package_code_ndcs.sql", {"codes": codes}))
    mapped_packages = mapped_packages.with_columns(
        pl.col("NDCPACKAGECODE")
        .replace_strict(ndc_by_code, default=None, return_dtype=pl.String)
        .alias("ndc")
    )
    rows = (
        mapped_packages.filter(pl.col("ndc").is_not_null())
        .select("ndc", "ingredient", "route", "product_name")
        .unique(subset=["ndc", "ingredient"], keep="first", maintain_order=True)
        .sort("ndc", "ingredient")
    )
    invalid = mapped_packages.filter(pl.col("ndc").is_null())

    _replace_ref_ndc(con, rows, SOURCE)
    return {
        "products_read": products.height,
        "packages_read": packages.height,
        "packages_mapped": rows.get_column("ndc").n_unique(),
        "ingredients": rows.get_column("ingredient").n_unique(),
        "rows_written": rows.height,
        "packages_without_valid_ndc": invalid.get_column("NDCPACKAGECODE").n_unique(),
    }


# ---------------------------------------------------------------------------- reading


def _read_fda_file(path: Path, required: tuple[str, ...]) -> pl.DataFrame:
    """A tab-delimited FDA file as strings, whatever its encoding; one-sentence errors naming the file."""
    if not path.is_file():
        raise SerosurvError(
            f"{path} is missing; unzip the FDA NDC Directory text files (product.txt and package.txt) "
            "into that folder."
        )
    text = _decode(path.read_bytes())
    if not text.strip():
        raise SerosurvError(f"{path} is empty; download the FDA NDC Directory text files again.")
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            separator="\t",
            quote_char=None,  # FDA does not quote; a '"' inside a name is part of the name
            infer_schema=False,
            truncate_ragged_lines=True,
        )
    except pl.exceptions.PolarsError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SerosurvError(
            f"{path} cannot be read as a tab-delimited FDA file ({first_line}); use the file as FDA "
            "publishes it."
        ) from None
    frame = frame.rename({name: name.strip().upper() for name in frame.columns})
    for column in required:
        if column not in frame.columns:
            raise SerosurvError(
                f"{path} has no column {column}; use the file exactly as FDA publishes it "
                "(tab-delimited, with its header row)."
            )
    # Strip stray spaces and carriage returns; empty strings become nulls.
    return frame.with_columns(
        pl.col(pl.String).str.strip_chars().replace("", None),
    )


def _decode(data: bytes) -> str:
    """UTF-8 if the bytes are UTF-8, else Windows-1252 (what FDA's files use), else Latin-1 (never fails)."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


# ---------------------------------------------------------------------------- product -> ingredients


def _map_products(products: pl.DataFrame, ruleset: RuleSet) -> pl.DataFrame:
    """PRODUCTID -> (ingredient, route, product_name), one row per agent ingredient of the product."""
    keys = ("SUBSTANCENAME", "PROPRIETARYNAME", "NONPROPRIETARYNAME", "ROUTENAME", "DOSAGEFORMNAME")
    mapper = _ProductMapper(ruleset)
    distinct = products.select(*keys).unique()
    mapped_rows = []
    for record in distinct.iter_rows(named=True):
        for ingredient, route in mapper.ingredients(**{key.lower(): record[key] for key in keys}):
            mapped_rows.append({**record, "ingredient": ingredient, "route": route})
    mapped = pl.DataFrame(
        mapped_rows,
        schema={**{key: pl.String for key in keys}, "ingredient": pl.String, "route": pl.String},
        orient="row",
    )
    product_name = (
        pl.when(pl.col("PROPRIETARYNAME").is_not_null())
        .then(pl.concat_str("PROPRIETARYNAME", "PROPRIETARYNAMESUFFIX", separator=" ", ignore_nulls=True))
        .otherwise(pl.col("NONPROPRIETARYNAME"))
        .alias("product_name")
    )
    return products.join(mapped, on=list(keys), how="inner", nulls_equal=True).select(
        "PRODUCTID", "ingredient", "route", product_name
    )


class _ProductMapper:
    """Maps one FDA product's substances and names to agent ingredients with their route."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.tracked = {a.ingredient: a.routes_that_matter for a in ruleset.agents.values()}
        self.map_name = cache(lambda text: tuple(map_drug_name(text, ruleset)))

    def ingredients(
        self,
        substancename: str | None,
        proprietaryname: str | None,
        nonproprietaryname: str | None,
        routename: str | None,
        dosageformname: str | None,
    ) -> list[tuple[str, str | None]]:
        # SUBSTANCENAME is FDA's structured list of active ingredients, so it decides which agents the
        # product holds; the names only fill in when it is empty, and tell a route (Emsam -> transdermal).
        found: set[str] = set()
        for part in (substancename or "").split(";"):
            found.update(ingredient for ingredient, _ in self.map_name(part.strip()))
        name_routes: dict[str, str] = {}
        for name in (proprietaryname, nonproprietaryname):
            for ingredient, route in self.map_name(name or ""):
                if not substancename:
                    found.add(ingredient)
                if route is not None:
                    name_routes.setdefault(ingredient, route)
        route_from_fda = _routes_in(routename, _FDA_ROUTES)
        route_from_form = _routes_in(dosageformname, None)
        result = []
        for ingredient in sorted(found):
            tracked = self.tracked.get(ingredient, ())
            route = (
                _first_tracked(route_from_fda, tracked)
                or (name_routes.get(ingredient) if name_routes.get(ingredient) in tracked else None)
                or _first_tracked(route_from_form, tracked)
            )
            result.append((ingredient, route))
        return result


def _routes_in(text: str | None, fda_routes: dict[str, frozenset[str]] | None) -> list[str]:
    """Routes named in ROUTENAME (exact FDA route names) or DOSAGEFORMNAME (words), riskiest first."""
    if not text:
        return []
    upper = text.upper()
    if fda_routes is not None:
        parts = {part.strip() for part in upper.split(";")}
        return [route for route, names in fda_routes.items() if parts & names]
    return [route for route, words in _DOSAGE_FORM_WORDS.items() if any(word in upper for word in words)]


def _first_tracked(routes: list[str], tracked: tuple[str, ...]) -> str | None:
    return next((route for route in routes if route in tracked), None)


# ---------------------------------------------------------------------------- a CSV of NDCs

CSV_SOURCE_PREFIX = "csv:"
ROUTES = ("oral", "transdermal", "iv")


def import_ndc_csv(con: duckdb.DuckDBPyConnection, path: Path, ruleset: RuleSet) -> dict[str, object]:
    """Replace the rows of `ref_ndc` from this file (source "csv:<file name>") with its NDCs that hold rule
    ingredients. The file has a header row with `ndc` and either `rxcui` (an RxNorm code of any term type,
    mapped through the RxNorm crosswalks: the imported ref_rxnorm, else the shipped one) or `ingredient` (a
    drug name, read by the name mapper: "sertraline", "Zoloft", "tramadol/APAP"; the NDC column may also be
    named ndc11, ndc_11, package_ndc or ndc_package_code), and optionally `route`
    (oral, transdermal, iv) and `product_name`. Comma- or tab-delimited. NDCs are 11 digits or hyphenated
    4-4-2, 5-3-2, 5-4-1 (normalise_ndc); rows with another NDC or holding no rule ingredient are counted,
    not written. All or nothing. Returns counts: source, rows_read, rows_without_valid_ndc (and the first
    such row: first_invalid_row, first_invalid_ndc), rows_without_rule_ingredient, ndcs_mapped,
    ingredients, rows_written."""
    path = Path(path)
    frame = _read_crosswalk_csv(path)
    by = "rxcui" if "rxcui" in frame.columns else "ingredient"
    create_macros(con, "normalise_ndc")
    codes = frame.get_column("ndc").drop_nulls().unique().to_list()
    ndc_by_code = dict(fetch(con, "analyses/package_code_ndcs.sql", {"codes": codes}))
    frame = frame.with_columns(
        pl.col("ndc").replace_strict(ndc_by_code, default=None, return_dtype=pl.String).alias("ndc11")
    )
    invalid = frame.filter(pl.col("ndc11").is_null())
    valid = frame.filter(pl.col("ndc11").is_not_null())
    mapped = _by_rxcui(con, valid, ruleset) if by == "rxcui" else _by_ingredient(valid, ruleset)
    rows = (
        mapped.select(pl.col("ndc11").alias("ndc"), "ingredient", "route", "product_name")
        .unique(subset=["ndc", "ingredient"], keep="first", maintain_order=True)
        .sort("ndc", "ingredient")
    )
    source = CSV_SOURCE_PREFIX + path.name
    _replace_ref_ndc(con, rows, source)
    first = invalid.row(0, named=True) if invalid.height else None
    return {
        "source": source,
        "mapped_by": by,
        "rows_read": frame.height,
        "rows_without_valid_ndc": invalid.height,
        "first_invalid_row": first["row"] if first else None,
        "first_invalid_ndc": first["ndc"] if first else None,
        "rows_without_rule_ingredient": valid.height - mapped.get_column("row").n_unique(),
        "ndcs_mapped": rows.get_column("ndc").n_unique(),
        "ingredients": rows.get_column("ingredient").n_unique(),
        "rows_written": rows.height,
    }


# Header names taken for the `ndc` column when the file has none by that name.
NDC_COLUMN_ALIASES = ("ndc11", "ndc_11", "package_ndc", "ndc_package_code")


def _replace_ref_ndc(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame, source: str) -> None:
    """`rows` (ndc, ingredient, route, product_name) become ref_ndc's rows of `source`, all or nothing."""
    con.register("ndc_rows", rows)
    try:
        with transaction(con):
            replace_rows(con, "ref_ndc", "staging/stg_ref_ndc.sql", {"source": source}, key="source")
    finally:
        con.unregister("ndc_rows")


def _read_crosswalk_csv(path: Path) -> pl.DataFrame:
    """The CSV as strings with its 1-based line numbers (`row`, the header is line 1), header checked."""
    if not path.is_file():
        raise SerosurvError(
            f"{path} does not exist; give the FDA NDC Directory's folder (product.txt, package.txt) or a CSV "
            "file with a header row: ndc and either rxcui or ingredient."
        )
    text = _decode(path.read_bytes())
    first_line = text.splitlines()[0] if text.strip() else ""
    if not first_line:
        raise SerosurvError(
            f"{path} is empty; a CSV crosswalk has a header row: ndc and either rxcui or ingredient."
        )
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            separator="\t" if "\t" in first_line else ",",
            infer_schema=False,
        )
    except pl.exceptions.PolarsError as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SerosurvError(f"{path} cannot be read as a CSV file ({problem}).") from None
    frame = frame.rename({name: name.strip().lower() for name in frame.columns})
    if "ndc" not in frame.columns:  # the names other crosswalks give the package code (NLM's: ndc11)
        alias = next((name for name in NDC_COLUMN_ALIASES if name in frame.columns), None)
        if alias:
            frame = frame.rename({alias: "ndc"})
    columns = set(frame.columns)
    if "ndc" not in columns or not ({"rxcui", "ingredient"} & columns):
        raise SerosurvError(
            f"{path} has the columns {', '.join(frame.columns)}; a CSV crosswalk has a header row with ndc and "
            "either rxcui or ingredient (e.g. ndc,rxcui)."
        )
    if {"rxcui", "ingredient"} <= columns:
        raise SerosurvError(
            f"{path} has both an rxcui and an ingredient column; keep one (rxcui maps through RxNorm, ingredient "
            "names the drug)."
        )
    frame = frame.with_columns(pl.col(pl.String).str.strip_chars().replace("", None))
    frame = frame.with_row_index("row", offset=2).with_columns(pl.col("row").cast(pl.Int64))
    for optional in ("route", "product_name"):
        if optional not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(optional))
    bad_route = frame.filter(
        pl.col("route").is_not_null() & ~pl.col("route").str.to_lowercase().is_in(ROUTES)
    )
    if bad_route.height:
        row, route = bad_route.select("row", "route").row(0)
        raise SerosurvError(
            f"{path} row {row}, field route: '{route}' is not one of {', '.join(ROUTES)} (leave it empty when the "
            "route does not matter)."
        )
    return frame.with_columns(pl.col("route").str.to_lowercase())


def _by_rxcui(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, ruleset: RuleSet) -> pl.DataFrame:
    from transforms.normalise import create_code_crosswalks

    create_code_crosswalks(con, ruleset)
    try:
        crosswalk = con.sql("select rxcui, ingredient, route from rxcui_crosswalk").pl()
    finally:
        drop_tables(con, "ndc_crosswalk", "rxcui_crosswalk", "ten_digit_ndcs")
    return frame.drop("route").join(crosswalk, on="rxcui", how="inner")


def _by_ingredient(frame: pl.DataFrame, ruleset: RuleSet) -> pl.DataFrame:
    tracked = {a.ingredient: a.routes_that_matter for a in ruleset.agents.values()}
    rows = []
    for record in frame.iter_rows(named=True):
        for ingredient, route in map_drug_name(record["ingredient"] or "", ruleset):
            given = record["route"] if record["route"] in tracked.get(ingredient, ()) else None
            rows.append({**record, "ingredient": ingredient, "route": given or route})
    return pl.DataFrame(rows, schema=frame.schema, orient="row")
