"""Rebuild the shipped RxNorm crosswalks (rules/rxnorm/*.csv.gz) from NLM-derived reference files.

    python -m tools.rxnorm_crosswalks --reference ../shared/reference/rxnorm [--rules rules]

Reads the reference folder's `ndc_to_rxcui_all.csv.gz` (every NDC of RxNorm's Current Prescribable Content
with its product code, term type, name and ingredient codes) and `rxcui_to_ingredient.csv` (codes of the
serotonergic ingredients, including components, brand names and retired codes listed by value sets), and
the rule set's agents (agents.csv: ingredients and their RxCUIs; synonyms.csv). Writes, into the rules
folder's rxnorm/:

- rxcui_ingredients.csv.gz: every code -> the rule ingredient(s) it contains. A product holds an agent when
  RxNorm lists the agent's ingredient code among the product's ingredients, or when serosurv's name mapper
  finds the agent in the generic part of the product's RxNorm name (salts and combinations: "lithium
  carbonate", "amphetamine aspartate"; agents without an RxCUI in agents.csv); reference rows keep their
  ingredient and add what the name mapper finds (brand names, BN, keep only the reference's). The agents'
  own ingredient codes are rows too. The route (transdermal, iv, oral) is the one the name states, kept
  for ingredients whose route matters.
- ndc_ingredients.csv.gz: every NDC of those products -> its ingredients and route.
- ndc_lookalikes.csv.gz: NDCs of other products that a 10-digit NDC of a rule product may also be.

The output is deterministic (sorted rows, gzip without a timestamp): rebuilding from the same reference and
rules gives the same bytes, so the rules hash changes only when the content does. tests/test_crosswalks.py
rebuilds and compares when the reference folder is present.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
from collections import defaultdict
from pathlib import Path

from serosurv.core.crosswalks import LOOKALIKES_FILE, NDC_FILE, RXCUI_FILE, RXCUI_SCHEMA
from serosurv.core.drugnames import map_rxnorm_name, route_in_name
from serosurv.core.rules import RuleSet, load_rules

ALL_NDCS = "ndc_to_rxcui_all.csv.gz"
CODES = "rxcui_to_ingredient.csv"


def ten_digit_forms(ndc: str) -> set[str]:
    """The 10-digit strings (no hyphens) an 11-digit NDC may have been written as: without the zero that
    pads its labeler (4-4-2), product (5-3-2) or package (5-4-1) segment."""
    forms = set()
    if ndc[0] == "0":
        forms.add(ndc[1:])
    if ndc[5] == "0":
        forms.add(ndc[:5] + ndc[6:])
    if ndc[9] == "0":
        forms.add(ndc[:9] + ndc[10])
    return forms


def candidates(ten: str) -> set[str]:
    """The 11-digit NDCs a 10-digit one may be (as sql/macros/ndc_candidates.sql reads it)."""
    return {"0" + ten, ten[:5] + "0" + ten[5:], ten[:9] + "0" + ten[9]}


def build(reference: Path, ruleset: RuleSet) -> dict[str, list[dict[str, str]]]:
    """The three files' rows (sorted), keyed by file name."""
    by_rxcui = {agent.rxcui: agent.ingredient for agent in ruleset.agents.values() if agent.rxcui}
    tracked = {agent.ingredient: agent.routes_that_matter for agent in ruleset.agents.values()}

    def route(name: str, ingredient: str) -> str:
        found = route_in_name(name)
        return found if found in tracked.get(ingredient, ()) else ""

    codes: dict[str, dict[str, str]] = {}  # rxcui -> tty, name
    ingredients: dict[str, dict[str, str]] = defaultdict(dict)  # rxcui -> ingredient -> basis

    with gzip.open(reference / ALL_NDCS, "rt", encoding="utf-8", newline="") as handle:
        products = list(csv.DictReader(handle))
    for row in products:
        rxcui = row["rxcui"]
        if rxcui in codes:
            continue
        codes[rxcui] = {"tty": row["tty"], "name": row["name"]}
        for code in filter(None, row["in_rxcuis"].split(";")):
            if code in by_rxcui:
                ingredients[rxcui].setdefault(by_rxcui[code], f"{ALL_NDCS}: ingredient code")
        for ingredient, _ in map_rxnorm_name(row["name"], ruleset):
            ingredients[rxcui].setdefault(ingredient, f"{ALL_NDCS}: name")

    with (reference / CODES).open(encoding="utf-8", newline="") as handle:
        listed = list(csv.DictReader(handle))
    for row in listed:
        rxcui = row["rxcui"]
        codes.setdefault(rxcui, {"tty": row["tty"], "name": row["name"]})
        if row["ingredient"] in ruleset.agents:
            ingredients[rxcui].setdefault(row["ingredient"], CODES)
        if row["tty"] != "BN":  # a brand name's own name says nothing about its ingredients
            for ingredient, _ in map_rxnorm_name(row["name"], ruleset):
                ingredients[rxcui].setdefault(ingredient, f"{CODES}: name")

    for code, ingredient in by_rxcui.items():
        codes.setdefault(code, {"tty": "IN", "name": ingredient})
        ingredients[code].setdefault(ingredient, "agents.csv")

    rxcui_rows = [
        {
            "rxcui": rxcui,
            "tty": codes[rxcui]["tty"],
            "name": codes[rxcui]["name"],
            "ingredient": ingredient,
            "route": route(codes[rxcui]["name"], ingredient),
            "basis": basis,
        }
        for rxcui, found in ingredients.items()
        for ingredient, basis in found.items()
    ]
    rxcui_rows.sort(key=lambda r: (int(r["rxcui"]), r["ingredient"]))

    rule_rxcuis = {row["rxcui"]: [] for row in rxcui_rows}
    for row in rxcui_rows:
        rule_rxcuis[row["rxcui"]].append(row)
    ndc_rows = [
        {
            "ndc": product["ndc11"],
            "rxcui": product["rxcui"],
            "ingredient": r["ingredient"],
            "route": r["route"],
        }
        for product in products
        for r in rule_rxcuis.get(product["rxcui"], [])
    ]
    ndc_rows = sorted(
        {tuple(r.values()): r for r in ndc_rows}.values(), key=lambda r: (r["ndc"], r["ingredient"])
    )

    rule_ndcs = {row["ndc"] for row in ndc_rows}
    known = {product["ndc11"]: product for product in products}
    lookalikes = {
        other
        for ndc in rule_ndcs
        for ten in ten_digit_forms(ndc)
        for other in candidates(ten)
        if other in known and other not in rule_ndcs
    }
    lookalike_rows = [
        {"ndc": ndc, "rxcui": known[ndc]["rxcui"], "name": known[ndc]["name"]} for ndc in sorted(lookalikes)
    ]
    return {RXCUI_FILE: rxcui_rows, NDC_FILE: ndc_rows, LOOKALIKES_FILE: lookalike_rows}


def csv_gzip_bytes(rows: list[dict[str, str]], columns: list[str]) -> bytes:
    """The rows as a UTF-8 CSV, gzip-compressed without a file name or time stamp (reproducible bytes)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as handle:
        handle.write(text.getvalue().encode("utf-8"))
    return out.getvalue()


COLUMNS = {
    RXCUI_FILE: list(RXCUI_SCHEMA),
    NDC_FILE: ["ndc", "rxcui", "ingredient", "route"],
    LOOKALIKES_FILE: ["ndc", "rxcui", "name"],
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reference", type=Path, required=True, help="folder with the RxNorm reference files"
    )
    parser.add_argument(
        "--rules", type=Path, default=Path("rules"), help="rules folder to write rxnorm/ into"
    )
    args = parser.parse_args(argv)
    ruleset = load_rules(args.rules)
    files = build(args.reference, ruleset)
    for name, rows in files.items():
        target = args.rules / name
        target.write_bytes(csv_gzip_bytes(rows, COLUMNS[name]))
        print(f"{target}: {len(rows):,} rows")


if __name__ == "__main__":
    main()
