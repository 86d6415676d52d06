"""Drug names, NDCs and RxCUIs as pharmacies send them -> rule-set ingredients.

Name matching is deterministic: the text is lower-cased and cut into words (letters and digits split,
punctuation dropped), then the longest known names (ingredients from agents.csv, names from synonyms.csv)
are matched word by word. Words that are not names (salts, strengths, dose forms) are ignored, so
"sertraline HCl 50 mg tab" and "ZOLOFT 100MG TABLET" both give sertraline, and a combination product
gives each agent ingredient. Routes are kept only for ingredients whose route matters (agents.csv
`routes_that_matter`).
"""

from __future__ import annotations

import re
import threading
import unicodedata
import weakref
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the rules module does not import this one
    from serosurv.core.rules import RuleSet

# Most specific / riskiest route first: when a name mentions several, this order decides.
_ROUTE_WORDS = {
    "transdermal": frozenset({"transdermal", "patch", "patches", "td"}),
    "iv": frozenset(
        {"iv", "intravenous", "injection", "inj", "injectable", "infusion", "vial", "ivpb", "ampule", "ampul"}
    ),
    "oral": frozenset(
        {
            "oral",
            "po",
            "tab",
            "tabs",
            "tablet",
            "tablets",
            "cap",
            "caps",
            "capsule",
            "capsules",
            "odt",
            "elixir",
            "syrup",
            "chewable",
            "disintegrating",
        }
    ),
}
_PER_24_HOURS = re.compile(r"/\s*24\s*h")  # "6 mg/24 hr" is how patches are labelled
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalise_name(text: str) -> str:
    """Lower case, accents and apostrophes dropped, letters split from digits, everything else a single space."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    lowered = plain.lower().replace("'", "").replace("\u2019", "")
    return _NOT_WORD.sub(" ", _LETTER_DIGIT.sub(" ", lowered)).strip()


@dataclass(frozen=True)
class _NameIndex:
    names: dict[tuple[str, ...], tuple[tuple[str, str | None], ...]]  # words -> (ingredient, route)
    longest: int
    tracked_routes: dict[str, tuple[str, ...]]
    rxcuis: dict[str, str]


_INDEXES: weakref.WeakKeyDictionary[RuleSet, _NameIndex] = weakref.WeakKeyDictionary()


def _index(ruleset: RuleSet) -> _NameIndex:
    # Built once per rule set; map_drug_name runs on every distinct name of a batch.
    cached = _INDEXES.get(ruleset)
    if cached is None:
        cached = _INDEXES[ruleset] = _build_index(ruleset)
    return cached


def _build_index(ruleset: RuleSet) -> _NameIndex:
    names: dict[tuple[str, ...], tuple[tuple[str, str | None], ...]] = {}
    for ingredient in ruleset.agents:
        names[tuple(normalise_name(ingredient).split())] = ((ingredient, None),)
    for synonym in ruleset.synonyms:
        key = tuple(normalise_name(synonym.name).split())
        names[key] = tuple((ingredient, synonym.route) for ingredient in synonym.ingredients)
    return _NameIndex(
        names=names,
        longest=max(len(key) for key in names),
        tracked_routes={a.ingredient: a.routes_that_matter for a in ruleset.agents.values()},
        rxcuis={a.rxcui: a.ingredient for a in ruleset.agents.values() if a.rxcui},
    )


def map_drug_name(name: str, ruleset: RuleSet) -> list[tuple[str, str | None]]:
    """Every rule-set ingredient named in `name`, with its route where a rule needs it; [] if none.

    Sorted by ingredient; at most one entry per ingredient.
    """
    if not name:
        return []
    index = _index(ruleset)
    words = normalise_name(name).split()
    found = _match_names(words, index)
    if not found:
        return []
    mentioned = _route_in_text(name, words)
    routes: dict[str, str | None] = {}
    for ingredient, synonym_route in found:
        tracked = index.tracked_routes.get(ingredient, ())
        route = synonym_route or (mentioned if mentioned in tracked else None)
        routes[ingredient] = _more_specific(routes.get(ingredient), route)
    return sorted(routes.items())


def _match_names(words: list[str], index: _NameIndex) -> list[tuple[str, str | None]]:
    """Greedy longest match from left to right, so "methylene blue" beats a lone "blue"."""
    found: list[tuple[str, str | None]] = []
    position = 0
    while position < len(words):
        for size in range(min(index.longest, len(words) - position), 0, -1):
            hit = index.names.get(tuple(words[position : position + size]))
            if hit is not None:
                found.extend(hit)
                position += size
                break
        else:
            position += 1
    return found


def _route_in_text(text: str, words: list[str]) -> str | None:
    present = set(words)
    for route, route_words in _ROUTE_WORDS.items():
        if present & route_words or (route == "transdermal" and _PER_24_HOURS.search(text.lower())):
            return route
    return None


def _more_specific(current: str | None, new: str | None) -> str | None:
    order = list(_ROUTE_WORDS)
    candidates = [r for r in (current, new) if r is not None]
    return min(candidates, key=order.index) if candidates else None


def map_rxcui(code: str | int | None, ruleset: RuleSet) -> str | None:
    """Ingredient for an RxNorm *ingredient* RxCUI (as in agents.csv); None for anything else. Clinical and
    branded drug codes map through the RxNorm crosswalks (serosurv.core.crosswalks)."""
    if code is None:
        return None
    text = str(code).strip()
    return _index(ruleset).rxcuis.get(text) if text.isdigit() else None


_BRACKETED = re.compile(r"\[[^\]]*\]")


def route_in_name(text: str) -> str | None:
    """The route a drug name states ("transdermal", "iv" or "oral"; the most specific when it names
    several), whatever the ingredient; None when it names none."""
    return _route_in_text(text, normalise_name(text).split())


def map_rxnorm_name(name: str, ruleset: RuleSet) -> list[tuple[str, str | None]]:
    """The rule ingredients of an RxNorm normalised name (an SCD, SBD, pack, component, dose-form group,
    IN, PIN or MIN name), with the route where it matters. Only the generic part is read: the brand in
    square brackets is not ("oxymetazoline 0.5 MG/ML Nasal Spray [Sudafed OM]" holds no pseudoephedrine),
    so a brand name that a pharmacy's "Sudafed" means never adds an ingredient the product lacks."""
    return map_drug_name(_BRACKETED.sub(" ", name or ""), ruleset) if name else []


def normalise_ndc(text: str | None) -> str | None:
    """An NDC as the 11-digit 5-4-2 string, or None when it cannot be known (surrounding white space is
    ignored).

    11 digits pass through; hyphenated 4-4-2, 5-3-2 and 5-4-1 are zero-padded in the short segment;
    5-4-2 with hyphens loses them. Ten digits without hyphens are ambiguous (the missing zero could
    belong to any segment), so they give None, as does anything else. The rule itself is the SQL macro
    sql/macros/normalise_ndc.sql, which validation runs over every claim: this evaluates it, so the two
    can never disagree (for many codes at once, run the macro over them in SQL).
    """
    if text is None:
        return None
    with _ndc_lock:
        (ndc,) = (
            _ndc_connection().execute("select normalise_ndc($ndc)", {"ndc": str(text).strip()}).fetchone()
        )
    return ndc


_ndc_lock = threading.Lock()


@cache
def _ndc_connection():
    """An in-memory DuckDB connection with the normalise_ndc macro (shared; callers hold `_ndc_lock`)."""
    import duckdb

    from serosurv.core.resources import data_dir

    con = duckdb.connect()
    con.execute((data_dir("sql") / "macros" / "normalise_ndc.sql").read_text(encoding="utf-8"))
    return con


# ---------------------------------------------------------------------------- approximate matching


def agent_words(ruleset: RuleSet) -> list[tuple[str, str, str | None]]:
    """(one-word name, ';'-joined ingredients, route) for every agent and one-word synonym: what an
    unknown word may be a misspelling of."""
    out: dict[str, tuple[str, str | None]] = {}
    for ingredient in ruleset.agents:
        words = normalise_name(ingredient).split()
        if len(words) == 1 and len(words[0]) >= 5:
            out[words[0]] = (ingredient, None)
    for synonym in ruleset.synonyms:
        words = normalise_name(synonym.name).split()
        if len(words) == 1 and len(words[0]) >= 5 and synonym.ingredients:
            out.setdefault(words[0], (";".join(sorted(synonym.ingredients)), synonym.route))
    return [(word, ingredients, route) for word, (ingredients, route) in sorted(out.items())]


@cache
def known_drug_words() -> frozenset[str]:
    """Words of real drug names (rules/rxnorm/known_drug_words.txt): never taken for a misspelling."""
    from serosurv.core.resources import data_dir

    path = data_dir("rules") / "rxnorm" / "known_drug_words.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def unknown_words(name: str) -> list[str]:
    """The words of a drug name that could be a misspelt agent: 5+ letters, not a real drug word."""
    known = known_drug_words()
    return sorted({w for w in normalise_name(name).split() if len(w) >= 5 and w.isalpha() and w not in known})
