"""Synthetic prescription claims with planted serotonergic interactions (the `serosurv generate` engine).

Writes three Parquet files:

* `claims.parquet`   -- canonical claim lines (PRODUCT.md 2.1): a realistic background population with
  refill jitter, duplicates, reversals, missing prescribers, pharmacy-style drug names and ~0.1 % malformed
  rows of every kind the canonical contract forbids; what the background takes is its workload (WORKLOADS:
  a general health plan, or a behavioural-health plan in which about half of the fills are serotonergic);
* `patients.parquet` -- birth year, sex and coverage period of every patient;
* `truth.parquet`    -- one row per planted patient: the ingredient pair, the severity the reference assigns
  to it, the kind (overlap/washout), `cross_prescriber` and `expect_flag` (false for near misses).

The planted severities below are copied from `shared/reference/interaction_rules.csv` by hand and are
deliberately independent of `serosurv.core.rules`: they are the oracle the pipeline is tested against.

Generation is streamed in chunks of patients (one Parquet row group per chunk) and deterministic per seed:
chunk `i` draws from `numpy.random.default_rng([seed, i])`, planted patient `j` from
`default_rng([seed, 2**31, j])`.  Chunked output therefore depends on `chunk_patients` (the planted
patients do not).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from serosurv.core.errors import SerosurvError

EPOCH = date(1970, 1, 1)

CLAIMS_SCHEMA = pa.schema(
    [
        ("claim_id", pa.string()),
        ("patient_id", pa.string()),
        ("fill_date", pa.date32()),
        ("days_supply", pa.int32()),
        ("end_date", pa.date32()),
        ("ndc", pa.string()),
        ("rxcui", pa.string()),
        ("drug_name", pa.string()),
        ("quantity", pa.float64()),
        ("prescriber_id", pa.string()),
        ("pharmacy_id", pa.string()),
        ("claim_status", pa.string()),
        ("fill_number", pa.int32()),
        ("rx_reference", pa.string()),
    ]
)
PATIENTS_SCHEMA = pa.schema(
    [
        ("patient_id", pa.string()),
        ("birth_year", pa.int32()),
        ("sex", pa.string()),
        ("coverage_start", pa.date32()),
        ("coverage_end", pa.date32()),
    ]
)
# The first seven columns are the product contract (PRODUCT.md 5); the rest explain each planted case.
TRUTH_SCHEMA = pa.schema(
    [
        ("patient_id", pa.string()),
        ("ingredient_a", pa.string()),
        ("ingredient_b", pa.string()),
        ("severity", pa.string()),
        ("kind", pa.string()),
        ("cross_prescriber", pa.bool_()),
        ("expect_flag", pa.bool_()),
        ("template", pa.string()),
        ("rule_id", pa.string()),
        ("overlap_days", pa.int32()),
        ("washout_gap_days", pa.int32()),
    ]
)

MALFORMED_KINDS = (
    "null_claim_id",
    "null_patient_id",
    "null_fill_date",
    "days_supply_zero",
    "days_supply_negative",
    "days_supply_over_365",
    "no_duration",
    "end_before_fill",
    "no_drug_identifier",
    "quantity_not_positive",
    "unknown_status",
    "future_fill_date",
    "bad_ndc",
    "duplicate_claim_id",
)
MALFORMED_SHARE = 0.001
DUPLICATE_SHARE = 0.02
REVERSAL_SHARE = 0.01
MISSING_PRESCRIBER_SHARE = 0.03
PLANTED_SHARE = 0.01
STATUSES = ("paid", "reversed", "pending")
PAID, REVERSED, PENDING = 0, 1, 2
MAX_RENEWALS_PER_COURSE = 8  # rx_reference numbers reserved per course (a new Rx every 12 fills)

# --------------------------------------------------------------------------------------------------
# Product catalogue: (group, drug name as pharmacies send it, units per day).  `group` is the ingredient
# for single-ingredient products; Emsam has its own group because route decides its severity.
# --------------------------------------------------------------------------------------------------
_PRODUCTS: tuple[tuple[str, str, float], ...] = (
    ("sertraline", "SERTRALINE HCL 50 MG TAB", 1),
    ("sertraline", "Zoloft 100mg tablet", 1),
    ("sertraline", "sertraline 100 mg tablet", 1),
    ("sertraline", "ZOLOFT 50 MG TABLET", 1),
    ("fluoxetine", "FLUOXETINE HCL 20 MG CAP", 1),
    ("fluoxetine", "Prozac 20 mg Pulvule", 1),
    ("fluoxetine", "fluoxetine 40mg capsule", 1),
    ("paroxetine", "PAROXETINE HCL 20 MG TAB", 1),
    ("paroxetine", "Paxil 10 mg tablet", 1),
    ("paroxetine", "PARoxetine ER 25 mg tab", 1),
    ("citalopram", "CITALOPRAM HBR 20 MG TAB", 1),
    ("citalopram", "Celexa 40 mg tablet", 1),
    ("escitalopram", "Escitalopram Oxalate 10 MG", 1),
    ("escitalopram", "LEXAPRO 20 MG TABLET", 1),
    ("escitalopram", "escitalopram 5mg tab", 1),
    ("venlafaxine", "VENLAFAXINE HCL ER 75 MG CAP", 1),
    ("venlafaxine", "Effexor XR 150 mg capsule", 1),
    ("duloxetine", "DULOXETINE HCL DR 60 MG CAP", 1),
    ("duloxetine", "Cymbalta 30 mg capsule", 1),
    ("duloxetine", "DULoxetine 20mg cap", 2),
    ("amitriptyline", "AMITRIPTYLINE HCL 25 MG TAB", 1),
    ("amitriptyline", "amitriptyline 10mg tablet", 1),
    ("nortriptyline", "NORTRIPTYLINE HCL 25 MG CAP", 1),
    ("nortriptyline", "Pamelor 10 mg capsule", 1),
    ("trazodone", "TRAZODONE HCL 50 MG TAB", 1),
    ("trazodone", "traZODone 100 mg tablet", 1),
    ("mirtazapine", "MIRTAZAPINE 15 MG TAB", 1),
    ("mirtazapine", "Remeron 30 mg tablet", 1),
    ("bupropion", "BUPROPION HCL XL 150 MG TAB", 1),
    ("bupropion", "Wellbutrin XL 300 mg tablet", 1),
    ("bupropion", "buPROPion SR 150mg", 2),
    ("tramadol", "TRAMADOL HCL 50 MG TAB", 4),
    ("tramadol", "TraMADOL HCl 50 MG", 3),
    ("tramadol", "Ultram 50 mg tablet", 4),
    ("tramadol", "tramadol/acetaminophen 37.5-325", 4),
    ("tramadol", "TRAMADOL-ACETAMINOPHEN 37.5-325 MG TAB", 4),
    ("oxycodone", "OXYCODONE HCL 5 MG TAB", 4),
    ("oxycodone", "oxyCODONE-acetaminophen 5-325 mg", 4),
    ("oxycodone", "Percocet 10-325 mg tablet", 3),
    ("hydrocodone", "HYDROCODONE-ACETAMINOPHEN 5-325 MG TAB", 4),
    ("hydrocodone", "Norco 10-325 mg tablet", 3),
    ("linezolid", "LINEZOLID 600 MG TAB", 2),
    ("linezolid", "Zyvox 600 mg tablet", 2),
    ("ondansetron", "ONDANSETRON 4 MG ODT", 3),
    ("ondansetron", "Zofran 8 mg tablet", 2),
    ("ondansetron", "ondansetron hcl 4mg tab", 3),
    ("cyclobenzaprine", "CYCLOBENZAPRINE HCL 10 MG TAB", 3),
    ("cyclobenzaprine", "cyclobenzaprine 5mg tablet", 3),
    ("cyclobenzaprine", "Amrix 15 mg ER capsule", 1),
    ("sumatriptan", "SUMATRIPTAN SUCC 50 MG TAB", 0.3),
    ("sumatriptan", "Imitrex 100 mg tablet", 0.3),
    ("sumatriptan", "sumatriptan 100mg tab", 0.3),
    ("rizatriptan", "RIZATRIPTAN BENZOATE 10 MG TAB", 0.3),
    ("rizatriptan", "Maxalt-MLT 10 mg ODT", 0.3),
    ("phenelzine", "PHENELZINE SULFATE 15 MG TAB", 3),
    ("phenelzine", "Nardil 15 mg tablet", 3),
    ("tranylcypromine", "TRANYLCYPROMINE SULFATE 10 MG TAB", 3),
    ("tranylcypromine", "Parnate 10 mg tablet", 3),
    ("selegiline_oral", "SELEGILINE HCL 5 MG CAP", 2),
    ("selegiline_oral", "selegiline 5mg tablet", 2),
    ("selegiline_patch", "Emsam 6 mg/24hr patch", 1),
    ("selegiline_patch", "EMSAM 9 MG/24 HR TRANSDERMAL PATCH", 1),
    ("metformin", "METFORMIN HCL 500 MG TAB", 2),
    ("metformin", "Glucophage 1000 mg tablet", 2),
    ("lisinopril", "LISINOPRIL 10 MG TAB", 1),
    ("lisinopril", "lisinopril 20mg tablet", 1),
    ("atorvastatin", "ATORVASTATIN CALCIUM 40 MG TAB", 1),
    ("atorvastatin", "Lipitor 20 mg tablet", 1),
    ("levothyroxine", "LEVOTHYROXINE SODIUM 50 MCG TAB", 1),
    ("levothyroxine", "Synthroid 100 mcg tablet", 1),
    ("amlodipine", "AMLODIPINE BESYLATE 5 MG TAB", 1),
    ("amlodipine", "amLODIPine 10 mg tablet", 1),
    ("omeprazole", "OMEPRAZOLE DR 20 MG CAP", 1),
    ("omeprazole", "Prilosec 40 mg capsule", 1),
    ("zolpidem", "ZOLPIDEM TARTRATE 10 MG TAB", 1),
    ("zolpidem", "Ambien 5 mg tablet", 1),
)
# RxNorm ingredient codes from the reference (serotonergic_agents.csv); only used on single-ingredient
# products, and only for a few background rows, as some sources send them.
# fmt: off
_RXCUI = {
    "sertraline": "36437", "fluoxetine": "4493", "paroxetine": "32937", "citalopram": "2556",
    "escitalopram": "321988", "venlafaxine": "39786", "duloxetine": "72625", "amitriptyline": "704",
    "nortriptyline": "7531", "trazodone": "10737", "mirtazapine": "15996", "bupropion": "42347",
    "tramadol": "10689", "linezolid": "190376", "ondansetron": "26225", "sumatriptan": "37418",
    "rizatriptan": "88014", "phenelzine": "8123", "tranylcypromine": "10734", "zolpidem": "39993",
}
# fmt: on
_GROUP = np.array([p[0] for p in _PRODUCTS])
_NAMES = pa.array([p[1] for p in _PRODUCTS], pa.string())
_PER_DAY = np.array([p[2] for p in _PRODUCTS], dtype=np.float64)


def _synthetic_ndc(name: str) -> str:
    """A stable 11-digit NDC per product (synthetic 999xx labeler codes, never a real product)."""
    key = " ".join(name.lower().split()).encode()
    h = int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
    return f"999{h % 100:02d}{(h // 100) % 10000:04d}{(h // 1_000_000) % 100:02d}"


@cache
def _product_ndcs() -> pa.Array:
    """One stable NDC per product: for a product of rule drugs, a real NDC of the crosswalk shipped in
    rules/rxnorm/ that holds exactly the ingredients (and routes) its name maps to, chosen by a hash of the
    name, so its code and its name agree as in a real extract; for the others (and a rule product no NDC
    matches) a synthetic one (_synthetic_ndc), which maps nothing as an NDC of another drug would not."""
    from serosurv.core.crosswalks import shipped_ndc
    from serosurv.core.drugnames import map_drug_name
    from serosurv.core.rules import load_rules

    ruleset = load_rules()
    by_ndc: dict[str, set[tuple[str, str | None]]] = {}
    for ndc, ingredient, route, _ in shipped_ndc(ruleset).iter_rows():
        by_ndc.setdefault(ndc, set()).add((ingredient, route))
    routes = ruleset.default_routes()
    ndcs = []
    for _, name, _ in _PRODUCTS:
        wanted = {(i, r or routes.get(i)) for i, r in map_drug_name(name, ruleset)}
        matches = sorted(
            n for n, held in by_ndc.items() if {(i, r or routes.get(i)) for i, r in held} == wanted
        )
        if wanted and matches:
            h = int.from_bytes(hashlib.sha256(name.lower().encode()).digest()[:8], "big")
            ndcs.append(matches[h % len(matches)])
        else:
            ndcs.append(_synthetic_ndc(name))
    return pa.array(ndcs, pa.string())


_RXCUIS = pa.array(
    [None if "/" in n or "-ACET" in n.upper() else _RXCUI.get(g) for g, n, _ in _PRODUCTS], pa.string()
)


def _quantity(days_supply: np.ndarray, product: np.ndarray) -> np.ndarray:
    """Units dispensed: whole tablets/patches (a PRN triptan fill of 30 days is 9 tablets)."""
    return np.ceil(np.round(days_supply * _PER_DAY[product], 6))


def _products(group: str) -> list[int]:
    return [i for i, p in enumerate(_PRODUCTS) if p[0] == group]


# --------------------------------------------------------------------------------------------------
# Planted templates.  Severities and rule ids are the reference's facts (interaction_rules.csv), with
# "most severe rule wins" applied by hand.  `none` = no serotonin-syndrome rule (the pair has only an
# optional non-serotonergic rule: R76/R49 for tramadol + oxycodone, R79 for zolpidem + sertraline).
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Template:
    name: str
    group_a: str  # product group of the first-listed side
    group_b: str
    severity: str
    rule_id: str
    kind: str  # overlap | washout | reversed
    expect_flag: bool
    prescribers: str  # cross | same | unknown
    washout_gap: tuple[int, int] | None = None  # B's first fill at A's last covered day + k, k in range

    @property
    def ingredients(self) -> tuple[str, str]:
        a, b = (g.split("_")[0] for g in (self.group_a, self.group_b))
        return (a, b) if a < b else (b, a)


_OVERLAP_PAIRS = (
    ("phenelzine", "sertraline", "contraindicated", "R01"),
    ("linezolid", "escitalopram", "contraindicated", "R31"),
    ("tranylcypromine", "tramadol", "contraindicated", "R05"),
    ("selegiline_patch", "sertraline", "contraindicated", "R30"),
    ("tramadol", "fluoxetine", "major", "R45"),
    ("tramadol", "paroxetine", "major", "R45"),
    ("tramadol", "duloxetine", "major", "R45"),
    ("tramadol", "sertraline", "moderate", "R44"),
    ("tramadol", "citalopram", "moderate", "R44"),
    ("trazodone", "sertraline", "moderate", "R61"),
    ("escitalopram", "venlafaxine", "moderate", "R62"),
    ("sumatriptan", "sertraline", "minor", "R51"),
    ("ondansetron", "sertraline", "minor", "R55"),
    ("rizatriptan", "duloxetine", "minor", "R51"),
)
_VARIANTS = ("cross", "same", "unknown")


# fmt: off
def _templates() -> tuple[Template, ...]:
    out = [
        Template(f"overlap_{a}_{b}_{v}", a, b, sev, rule, "overlap", True, v)
        for a, b, sev, rule in _OVERLAP_PAIRS
        for v in _VARIANTS
    ]
    for v in _VARIANTS:
        out.append(
            Template(f"washout_phenelzine_then_sertraline_{v}", "phenelzine", "sertraline",
                     "contraindicated", "R01", "washout", True, v, (5, 12))
        )
        out.append(
            Template(f"washout_fluoxetine_then_phenelzine_{v}", "fluoxetine", "phenelzine",
                     "contraindicated", "R01", "washout", True, v, (10, 30))
        )
    out += [
        Template("nearmiss_phenelzine_then_sertraline_day15", "phenelzine", "sertraline",
                 "contraindicated", "R01", "washout", False, "cross", (15, 15)),
        Template("nearmiss_phenelzine_then_sertraline_late", "phenelzine", "sertraline",
                 "contraindicated", "R01", "washout", False, "same", (16, 40)),
        Template("nearmiss_fluoxetine_then_phenelzine_day36", "fluoxetine", "phenelzine",
                 "contraindicated", "R01", "washout", False, "cross", (36, 50)),
        Template("nearmiss_tramadol_oxycodone", "tramadol", "oxycodone", "none", "", "overlap", False, "cross"),
        Template("nearmiss_zolpidem_sertraline", "zolpidem", "sertraline", "none", "", "overlap", False, "cross"),
        Template("nearmiss_reversed_tramadol_sertraline", "tramadol", "sertraline", "moderate", "R44",
                 "reversed", False, "cross"),
    ]
    return tuple(out)
# fmt: on
    return tuple(out)


TEMPLATES = _templates()
# Days supply of one planted fill; everything else is a clean 30-day fill.
_PLANTED_SUPPLY = {"linezolid": 14, "ondansetron": 10}
_PLANTED_NOISE = ("metformin", "lisinopril", "atorvastatin", "levothyroxine", "amlodipine", "omeprazole")


# --------------------------------------------------------------------------------------------------
# Row buffers: columns as numpy arrays plus null masks, turned into Arrow once per chunk.
# --------------------------------------------------------------------------------------------------
_INT_COLS = (
    "patient",
    "fill_day",
    "days_supply",
    "product",
    "prescriber",
    "pharmacy",
    "status",
    "fill_number",
    "rx_num",
    "end_day",
    "seq",
    "claim_num",
    "source_row",
)
_BOOL_COLS = (
    "background",
    "null_claim_id",
    "null_patient",
    "null_fill_date",
    "null_days_supply",
    "null_ndc",
    "bad_ndc",
    "null_name",
    "with_rxcui",
)


def _empty_rows(n: int) -> dict[str, np.ndarray]:
    rows = {c: np.zeros(n, np.int64) for c in _INT_COLS}
    rows.update({c: np.zeros(n, bool) for c in _BOOL_COLS})
    rows["quantity"] = np.zeros(n, np.float64)
    rows["end_day"][:] = -1  # -1 = null
    return rows


def _take(rows: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {c: v[idx].copy() for c, v in rows.items()}


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}


def _days(d: date) -> int:
    return (d - EPOCH).days


def _ids(prefix: str, numbers: np.ndarray, width: int, null: np.ndarray | None = None) -> pa.Array:
    text = pc.utf8_lpad(pa.array(numbers, pa.int64()).cast(pa.string()), width, "0")
    ids = pc.binary_join_element_wise(prefix, text, "")
    return (
        ids
        if null is None or not null.any()
        else pc.if_else(pa.array(null), pa.nulls(len(ids), pa.string()), ids)
    )


def _to_arrow(rows: dict[str, np.ndarray]) -> pa.Table:
    prod = pa.array(rows["product"], pa.int32())
    n = len(prod)
    ndc = pc.if_else(pa.array(rows["bad_ndc"]), pa.scalar("12345"), _product_ndcs().take(prod))
    ndc = pc.if_else(pa.array(rows["null_ndc"]), pa.nulls(n, pa.string()), ndc)
    rxcui = pc.if_else(pa.array(rows["with_rxcui"]), _RXCUIS.take(prod), pa.nulls(n, pa.string()))
    name = pc.if_else(pa.array(rows["null_name"]), pa.nulls(n, pa.string()), _NAMES.take(prod))
    end_null = rows["end_day"] < 0
    cols = [
        _ids("C", rows["claim_num"], 10, rows["null_claim_id"]),
        _ids("P", rows["patient"] + 1, 7, rows["null_patient"]),
        pa.array(rows["fill_day"].astype(np.int32), mask=rows["null_fill_date"]).cast(pa.date32()),
        pa.array(rows["days_supply"].astype(np.int32), mask=rows["null_days_supply"]),
        pa.array(np.where(end_null, 0, rows["end_day"]).astype(np.int32), mask=end_null).cast(pa.date32()),
        ndc,
        rxcui,
        name,
        pa.array(rows["quantity"], pa.float64()),
        _ids("PR", rows["prescriber"], 6, rows["prescriber"] < 0),
        _ids("PH", rows["pharmacy"], 5),
        pa.array(STATUSES, pa.string()).take(pa.array(rows["status"], pa.int8())),
        pa.array(rows["fill_number"].astype(np.int32)),
        _ids("RX", rows["rx_num"], 10),
    ]
    return pa.Table.from_arrays(cols, schema=CLAIMS_SCHEMA)


# --------------------------------------------------------------------------------------------------
# Background population
# --------------------------------------------------------------------------------------------------
@dataclass
class _Courses:
    """One row per course of one product: fills are start + cumulative intervals, up to `stop`."""

    patient: np.ndarray  # local patient index in the chunk
    product: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    supply: np.ndarray
    intervals: np.ndarray  # (n_courses, max_fills): interval before fill k (column 0 is 0)
    max_fills: np.ndarray


def _pick(rng: np.random.Generator, groups: dict[str, float], n: int) -> np.ndarray:
    """Draw `n` product indices: a group by weight, then one of its name variants uniformly."""
    names = list(groups)
    w = np.array([groups[g] for g in names], dtype=np.float64)
    g = rng.choice(len(names), size=n, p=w / w.sum())
    variants = [np.array(_products(name)) for name in names]
    counts = np.array([len(v) for v in variants])
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    flat = np.concatenate(variants)
    return flat[offsets[g] + (rng.random(n) * counts[g]).astype(np.int64)]


_NOISE = {
    "metformin": 3,
    "lisinopril": 3,
    "atorvastatin": 4,
    "levothyroxine": 2,
    "amlodipine": 2.5,
    "omeprazole": 2.5,
    "zolpidem": 0.5,
}
_ANTIDEPRESSANTS = {
    "sertraline": 5,
    "escitalopram": 4,
    "fluoxetine": 3.5,
    "citalopram": 3,
    "bupropion": 4,
    "trazodone": 4,
    "paroxetine": 1.5,
    "venlafaxine": 2,
    "duloxetine": 2.5,
    "mirtazapine": 1.5,
    "amitriptyline": 1.5,
    "nortriptyline": 0.8,
}
_ACUTE = {
    "tramadol": 25,
    "oxycodone": 20,
    "hydrocodone": 18,
    "ondansetron": 15,
    "cyclobenzaprine": 15,
    "linezolid": 2,
}
_ACUTE_SUPPLY = {
    "tramadol": (5, 30),
    "oxycodone": (3, 10),
    "hydrocodone": (3, 10),
    "ondansetron": (3, 10),
    "cyclobenzaprine": (7, 30),
    "linezolid": (10, 14),
}
_TRIPTANS = {"sumatriptan": 3, "rizatriptan": 2}
_MAOIS = {"phenelzine": 3, "tranylcypromine": 2, "selegiline_oral": 2, "selegiline_patch": 1.5}


@dataclass(frozen=True)
class Workload:
    """How the background population is drawn: who takes what, and how often.

    `general` is a general health plan (about 1 fill in 6 is a serotonergic rule drug); `serotonergic` a
    behavioural-health plan in which about half of the fills are: many chronic antidepressant users (some
    on two), more acute tramadol, ondansetron and triptans, fewer chronic non-serotonergic medicines,
    MAOIs still rare. Planted patients are the same in every workload."""

    chronic_courses: float  # Poisson mean of chronic non-serotonergic courses per patient
    chronic: dict[str, float]
    antidepressant_users: float  # share of patients on a chronic antidepressant
    second_antidepressant: float  # share of those on a second one
    antidepressants: dict[str, float]
    maoi_users: float
    acute_courses: float  # Poisson mean of acute courses per patient
    acute: dict[str, float]
    triptan_users: float


WORKLOADS = {
    "general": Workload(
        chronic_courses=1.45,
        chronic=_NOISE,
        antidepressant_users=0.17,
        second_antidepressant=0.25,
        antidepressants=_ANTIDEPRESSANTS,
        maoi_users=0.001,
        acute_courses=0.35,
        acute=_ACUTE,
        triptan_users=0.03,
    ),
    "serotonergic": Workload(
        chronic_courses=0.85,
        chronic=_NOISE,
        antidepressant_users=0.5,
        second_antidepressant=0.35,
        antidepressants=_ANTIDEPRESSANTS,
        maoi_users=0.002,
        acute_courses=0.5,
        acute={**_ACUTE, "tramadol": 40, "oxycodone": 10, "hydrocodone": 8, "ondansetron": 25},
        triptan_users=0.08,
    ),
}


def _chronic(rng, patient, product, cov_start, cov_end, long_supply_share, gap_share) -> _Courses:
    n = len(patient)
    supply = np.where(rng.random(n) < long_supply_share, 90, 30)
    cs, ce = cov_start[patient], cov_end[patient]
    prevalent = rng.random(n) < 0.7
    start = np.where(
        prevalent,
        cs + (rng.random(n) * supply).astype(np.int64),
        cs + (rng.random(n) * np.maximum(ce - cs - 30, 1)).astype(np.int64),
    )
    stop = np.where(rng.random(n) < 0.75, ce, np.minimum(ce, start + rng.integers(60, 366, n)))
    k = 16
    intervals = supply[:, None] + rng.integers(-5, 11, (n, k))
    gap = rng.random(n) < gap_share  # a pause > 60 uncovered days ends one episode, a later fill restarts
    col = rng.integers(1, k, n)
    intervals[gap, col[gap]] += rng.integers(66, 151, gap.sum())
    intervals[:, 0] = 0
    return _Courses(patient, product, start, stop, supply, intervals, np.full(n, k))


def _background_courses(
    rng, background: np.ndarray, cov_start, cov_end, workload: Workload
) -> list[_Courses]:
    bg = np.flatnonzero(background)
    out = []
    # chronic non-serotonergic medicines
    n_noise = rng.poisson(workload.chronic_courses, len(bg))
    p = np.repeat(bg, n_noise)
    out.append(_chronic(rng, p, _pick(rng, workload.chronic, len(p)), cov_start, cov_end, 0.3, 0.05))
    # chronic antidepressant users (some on two, e.g. SSRI + trazodone at night)
    users = bg[rng.random(len(bg)) < workload.antidepressant_users]
    p = np.concatenate([users, users[rng.random(len(users)) < workload.second_antidepressant]])
    out.append(
        _chronic(rng, p, _pick(rng, workload.antidepressants, len(p)), cov_start, cov_end, 0.25, 0.15)
    )
    # rare MAOI users
    p = bg[rng.random(len(bg)) < workload.maoi_users]
    out.append(_chronic(rng, p, _pick(rng, _MAOIS, len(p)), cov_start, cov_end, 0.0, 0.1))
    # acute courses: one fill, sometimes a refill or two
    p = np.repeat(bg, rng.poisson(workload.acute_courses, len(bg)))
    prod = _pick(rng, workload.acute, len(p))
    lo = np.array([_ACUTE_SUPPLY.get(g, (30, 30))[0] for g in _GROUP])[prod]
    hi = np.array([_ACUTE_SUPPLY.get(g, (30, 30))[1] for g in _GROUP])[prod]
    supply = lo + (rng.random(len(p)) * (hi - lo + 1)).astype(np.int64)
    start = cov_start[p] + (rng.random(len(p)) * (cov_end[p] - cov_start[p] + 1)).astype(np.int64)
    k = 3
    intervals = supply[:, None] + rng.integers(0, 15, (len(p), k))
    intervals[:, 0] = 0
    fills = np.where(rng.random(len(p)) < 0.75, 1, rng.integers(2, 4, len(p)))
    out.append(_Courses(p, prod, start, cov_end[p], supply, intervals, fills))
    # PRN triptans: irregular fills of a small quantity
    p = bg[rng.random(len(bg)) < workload.triptan_users]
    supply = np.where(rng.random(len(p)) < 0.5, 30, 15)
    k = 10
    intervals = supply[:, None] + rng.exponential(45, (len(p), k)).astype(np.int64)
    intervals[:, 0] = 0
    start = cov_start[p] + rng.integers(0, 120, len(p))
    out.append(
        _Courses(p, _pick(rng, _TRIPTANS, len(p)), start, cov_end[p], supply, intervals, np.full(len(p), k))
    )
    return out


def _expand(courses: _Courses, rx_base: int) -> dict[str, np.ndarray]:
    """Fills of every course: fill k on start + sum(intervals[:k+1]) while on or before `stop`."""
    k = courses.intervals.shape[1]
    days = courses.start[:, None] + np.cumsum(courses.intervals, axis=1)
    keep = (days <= courses.stop[:, None]) & (np.arange(k)[None, :] < courses.max_fills[:, None])
    ci, fi = np.nonzero(keep)
    rows = _empty_rows(len(ci))
    rows["patient"] = courses.patient[ci]
    rows["fill_day"] = days[ci, fi]
    rows["days_supply"] = courses.supply[ci]
    rows["product"] = courses.product[ci]
    rows["fill_number"] = fi % 12
    rows["rx_num"] = rx_base + ci * MAX_RENEWALS_PER_COURSE + fi // 12
    rows["course"] = ci
    return rows


# --------------------------------------------------------------------------------------------------
# Planted patients
# --------------------------------------------------------------------------------------------------
def _planted_rows(
    rng: np.random.Generator,
    template: Template,
    local_patient: int,
    first_day: int,
    last_day: int,
    prescriber_pool: int,
    pharmacy_pool: int,
    rx_base: int,
) -> tuple[list[dict], dict]:
    """Fills of one planted patient and its truth facts (overlap / washout gap measured on the fills)."""
    pr = rng.choice(prescriber_pool, size=2, replace=False) + 1
    pr_a, pr_b = int(pr[0]), int(pr[1])
    if template.prescribers == "same":
        pr_b = pr_a
    elif template.prescribers == "unknown":
        if rng.random() < 0.5:
            pr_a = -1
        else:
            pr_b = -1
    pharmacies = rng.integers(1, pharmacy_pool + 1, 2)
    span = 190  # days from the first planted fill to the last
    base = first_day + int(rng.integers(0, max(1, last_day - first_day - span)))
    rows: list[dict] = []
    rx = [rx_base]

    def course(group: str, start: int, n_fills: int, prescriber: int, pharmacy: int) -> set[int]:
        product = int(rng.choice(_products(group)))
        supply = _PLANTED_SUPPLY.get(group, 30)
        quantity = float(_quantity(np.array([supply]), np.array([product]))[0])
        covered: set[int] = set()
        for f in range(n_fills):
            day = start + f * supply
            rows.append(
                dict(
                    patient=local_patient,
                    fill_day=day,
                    days_supply=supply,
                    product=product,
                    quantity=quantity,
                    prescriber=prescriber,
                    pharmacy=pharmacy,
                    fill_number=f,
                    rx_num=rx[0],
                    status=PAID,
                    seq=0,
                )
            )
            covered.update(range(day, day + supply))
        rx[0] += 1
        return covered

    overlap = gap = None
    if template.kind == "washout":
        days_a = course(template.group_a, base, 2, pr_a, int(pharmacies[0]))
        lo, hi = template.washout_gap
        gap = int(rng.integers(lo, hi + 1))
        course(template.group_b, max(days_a) + gap, 2, pr_b, int(pharmacies[1]))
    elif template.kind == "reversed":
        # a sertraline course and one tramadol fill inside it that the pharmacy reversed
        course(template.group_b, base, 3, pr_b, int(pharmacies[1]))
        course(template.group_a, base + int(rng.integers(20, 50)), 1, pr_a, int(pharmacies[0]))
        rows.append(dict(rows[-1], status=REVERSED, seq=2))
        overlap = 0
    else:
        # a 90-day course on one side; the other side (60 days, or one short acute fill) shares >= 10 days
        sides = [(template.group_a, pr_a, int(pharmacies[0])), (template.group_b, pr_b, int(pharmacies[1]))]
        if _PLANTED_SUPPLY.get(sides[0][0], 30) < 30 or (
            _PLANTED_SUPPLY.get(sides[1][0], 30) == 30 and rng.random() < 0.5
        ):
            sides.reverse()
        (g_long, p_long, ph_long), (g_short, p_short, ph_short) = sides
        days_long = course(g_long, base + 50, 3, p_long, ph_long)
        short_supply = _PLANTED_SUPPLY.get(g_short, 30)
        if short_supply < 30:
            days_short = course(
                g_short, base + 50 + int(rng.integers(0, 90 - short_supply + 1)), 1, p_short, ph_short
            )
        else:
            days_short = course(g_short, base + 50 + int(rng.integers(-50, 81)), 2, p_short, ph_short)
        overlap = len(days_long & days_short)
    # optional non-serotonergic noise
    if rng.random() < 0.5:
        course(
            str(rng.choice(_PLANTED_NOISE)),
            base + int(rng.integers(0, 30)),
            4,
            max(pr_a, pr_b),
            int(pharmacies[0]),
        )
    cross = None if min(pr_a, pr_b) < 0 else pr_a != pr_b
    a, b = template.ingredients
    truth = dict(
        ingredient_a=a,
        ingredient_b=b,
        severity=template.severity,
        kind="overlap" if template.kind == "reversed" else template.kind,
        cross_prescriber=cross,
        expect_flag=template.expect_flag,
        template=template.name,
        rule_id=template.rule_id or None,
        overlap_days=overlap,
        washout_gap_days=gap,
    )
    return rows, truth


def _rows_from_dicts(dicts: list[dict]) -> dict[str, np.ndarray]:
    rows = _empty_rows(len(dicts))
    for c in (
        "patient",
        "fill_day",
        "days_supply",
        "product",
        "prescriber",
        "pharmacy",
        "fill_number",
        "rx_num",
        "status",
        "seq",
    ):
        rows[c] = np.array([d[c] for d in dicts], np.int64)
    rows["quantity"] = np.array([d["quantity"] for d in dicts], np.float64)
    rows["course"] = np.full(len(dicts), -1, np.int64)
    return rows


# --------------------------------------------------------------------------------------------------
# Data-quality noise on background rows
# --------------------------------------------------------------------------------------------------
def _malformed(rng, rows: dict[str, np.ndarray], candidates: np.ndarray, n_bad: int, end_day: int) -> dict:
    """Copies of background rows, each broken in one way the canonical contract forbids."""
    src = rng.choice(candidates, size=n_bad, replace=False)
    bad = _take(rows, src)
    bad["seq"][:] = 3
    bad["source_row"] = src
    kinds = (int(rng.integers(len(MALFORMED_KINDS))) + np.arange(n_bad)) % len(MALFORMED_KINDS)
    bad["kind"] = kinds
    for i, name in enumerate(MALFORMED_KINDS):
        m = kinds == i
        k = int(m.sum())
        if not k:
            continue
        if name == "null_claim_id":
            bad["null_claim_id"][m] = True
        elif name == "null_patient_id":
            bad["null_patient"][m] = True
        elif name == "null_fill_date":
            bad["null_fill_date"][m] = True
        elif name == "days_supply_zero":
            bad["days_supply"][m] = 0
        elif name == "days_supply_negative":
            bad["days_supply"][m] = -rng.integers(1, 31, k)
        elif name == "days_supply_over_365":
            bad["days_supply"][m] = rng.integers(366, 1001, k)
        elif name == "no_duration":
            bad["null_days_supply"][m] = True
        elif name == "end_before_fill":
            bad["null_days_supply"][m] = True
            bad["end_day"][m] = bad["fill_day"][m] - rng.integers(1, 31, k)
        elif name == "no_drug_identifier":
            bad["null_ndc"][m] = bad["null_name"][m] = True
            bad["with_rxcui"][m] = False
        elif name == "quantity_not_positive":
            bad["quantity"][m] = np.where(rng.random(k) < 0.5, 0.0, -bad["quantity"][m])
        elif name == "unknown_status":
            bad["status"][m] = PENDING
        elif name == "future_fill_date":
            bad["fill_day"][m] = end_day + 400 + rng.integers(1, 201, k)
        elif name == "bad_ndc":
            bad["bad_ndc"][m] = bad["null_name"][m] = True
            bad["null_ndc"][m] = bad["with_rxcui"][m] = False
        elif name == "duplicate_claim_id":
            # same claim id as the row it copies, different content: another product and quantity
            was_lisinopril = _GROUP[bad["product"][m]] == "lisinopril"
            bad["product"][m] = np.where(
                was_lisinopril, rng.choice(_products("omeprazole"), k), rng.choice(_products("lisinopril"), k)
            )
            bad["null_name"][m] = bad["null_ndc"][m] = False
            bad["quantity"][m] = bad["quantity"][m] + 7
            bad["reuse_id"] = m
    bad.setdefault("reuse_id", np.zeros(n_bad, bool))
    return bad


@dataclass
class _Counters:
    claim: int = 0
    rx: int = 1
    malformed: int = 0
    duplicates: int = 0
    reversals: int = 0


def _chunk(
    chunk_index: int,
    first: int,
    n: int,
    seed: int,
    start_day: int,
    end_day: int,
    planted: dict[int, int],
    total_patients: int,
    counters: _Counters,
    workload: Workload,
) -> tuple[pa.Table, pa.Table, list[dict]]:
    rng = np.random.default_rng([seed, chunk_index])
    prescriber_pool = max(4, total_patients // 20)
    pharmacy_pool = max(2, total_patients // 50)
    local_planted = {g - first: j for g, j in planted.items() if first <= g < first + n}
    background = np.ones(n, bool)
    background[list(local_planted)] = False

    # patients: age, sex, coverage (most full-year, some partial)
    birth_year = rng.choice(np.arange(1930, 2021), size=n, p=_age_weights())
    sex = np.array(["F", "M", "U"], dtype=object)[rng.choice(3, size=n, p=[0.52, 0.47, 0.01])]
    span = end_day - start_day
    partial = rng.random(n) < 0.15
    a = start_day + (rng.random(n) * max(span - 30, 1)).astype(np.int64)
    b = a + 30 + (rng.random(n) * np.maximum(end_day - a - 30, 0)).astype(np.int64)
    late_start = rng.random(n) < 0.5
    cov_start = np.where(partial & late_start, a, start_day)
    cov_end = np.where(partial & ~late_start, np.minimum(b, end_day), end_day)
    cov_start[~background] = start_day
    cov_end[~background] = end_day

    # prescribers (1-4) and pharmacies (1-3) per patient
    n_pr = rng.integers(1, 5, n)
    n_ph = rng.choice([1, 2, 3], size=n, p=[0.6, 0.3, 0.1])
    pr_of = rng.integers(1, prescriber_pool + 1, (n, 4))
    ph_of = rng.integers(1, pharmacy_pool + 1, (n, 3))

    parts = []
    rx_next = counters.rx
    for courses in _background_courses(rng, background, cov_start, cov_end, workload):
        if not len(courses.patient):
            continue
        fills = _expand(courses, rx_next)
        rx_next += len(courses.patient) * MAX_RENEWALS_PER_COURSE
        p = fills["patient"]
        course_pr = rng.integers(0, 4, len(courses.patient))
        fills["prescriber"] = pr_of[p, course_pr[fills["course"]] % n_pr[p]]
        # most fills at the patient's main pharmacy
        which = np.where(rng.random(len(p)) < 0.85, 0, rng.integers(0, 3, len(p)) % n_ph[p])
        fills["pharmacy"] = ph_of[p, which]
        fills["quantity"] = _quantity(fills["days_supply"], fills["product"])
        fills["background"][:] = True
        parts.append(fills)

    truths = []
    for local, j in sorted(local_planted.items()):
        prng = np.random.default_rng([seed, 2**31, j])
        dicts, truth = _planted_rows(
            prng,
            TEMPLATES[j % len(TEMPLATES)],
            local,
            start_day,
            end_day,
            prescriber_pool,
            pharmacy_pool,
            rx_next,
        )
        rx_next = max(d["rx_num"] for d in dicts) + 1
        truth["patient_id"] = f"P{first + local + 1:07d}"
        truths.append(truth)
        parts.append(_rows_from_dicts(dicts))
    counters.rx = rx_next
    if not parts:
        parts.append(_empty_rows(0) | {"course": np.zeros(0, np.int64)})
    rows = _concat(parts)
    rows.pop("course")
    rows["patient"] += first  # global patient index from here on
    bg = np.flatnonzero(rows["background"])

    # missing prescribers, occasional rows without NDC or without name, a few with an RxCUI
    rows["prescriber"][bg[rng.random(len(bg)) < MISSING_PRESCRIBER_SHARE]] = -1
    u = rng.random(len(bg))
    rows["null_ndc"][bg[u < 0.02]] = True
    rows["null_name"][bg[(u >= 0.02) & (u < 0.025)]] = True
    rows["with_rxcui"][bg[rng.random(len(bg)) < 0.05]] = True
    rows["null_name"] &= ~rows["null_ndc"]

    # same-day duplicate fills and reversals (B2 repeats pharmacy, date, Rx number and fill number)
    pick = rng.permutation(bg)
    n_dup = int(round(len(bg) * DUPLICATE_SHARE))
    n_rev = int(round(len(bg) * REVERSAL_SHARE))
    dup = _take(rows, pick[:n_dup])
    dup["seq"][:] = 1
    rev = _take(rows, pick[n_dup : n_dup + n_rev])
    rev["seq"][:] = 2
    rev["status"][:] = REVERSED
    rows = _concat([rows, dup, rev])
    counters.duplicates += n_dup
    counters.reversals += n_rev
    order = np.lexsort((rows["seq"], rows["fill_day"], rows["patient"]))
    rows = _take(rows, order)
    rows["claim_num"] = counters.claim + np.arange(len(order))
    counters.claim += len(order)

    # malformed copies of background paid rows (never planted patients, never reversals)
    candidates = np.flatnonzero(rows["background"] & (rows["status"] == PAID))
    n_bad = min(len(candidates), int(round(len(rows["patient"]) * MALFORMED_SHARE / (1 - MALFORMED_SHARE))))
    if n_bad:
        bad = _malformed(rng, rows, candidates, n_bad, end_day)
        fresh = ~bad.pop("reuse_id")
        bad.pop("kind")
        bad["claim_num"][fresh] = counters.claim + np.arange(int(fresh.sum()))
        counters.claim += int(fresh.sum())
        counters.malformed += n_bad
        sort_day = np.concatenate([rows["fill_day"], rows["fill_day"][bad["source_row"]]])
        rows = _concat([rows, bad])
        order = np.lexsort((rows["seq"], sort_day, rows["patient"]))
        rows = _take(rows, order)

    claims = _to_arrow(rows)
    patients = pa.Table.from_arrays(
        [
            _ids("P", np.arange(first + 1, first + n + 1), 7),
            pa.array(birth_year.astype(np.int32)),
            pa.array(sex, pa.string()),
            pa.array(cov_start.astype(np.int32)).cast(pa.date32()),
            pa.array(cov_end.astype(np.int32)).cast(pa.date32()),
        ],
        schema=PATIENTS_SCHEMA,
    )
    return claims, patients, truths


def _age_weights() -> np.ndarray:
    years = np.arange(1930, 2021)
    age = 2025 - years
    w = np.where(age < 18, 0.6, np.where(age < 65, 1.2, np.where(age < 85, 1.0, 0.3)))
    return w / w.sum()


def planted_positions(patients: int) -> dict[int, int]:
    """Global patient index -> planted case number: ~1 in 100 patients, every template at least once."""
    n_planted = min(patients, max(len(TEMPLATES), round(patients * PLANTED_SHARE)))
    idx = ((np.arange(n_planted) + 0.5) * patients / n_planted).astype(np.int64)
    return {int(g): j for j, g in enumerate(idx)}


def generate(
    out_dir: Path,
    patients: int,
    seed: int = 42,
    start: date = date(2025, 1, 1),
    end: date = date(2025, 12, 31),
    chunk_patients: int = 50_000,
    workload: str = "general",
) -> dict[str, Path | int]:
    """Write a synthetic population's claims, patients and planted truth as Parquet under `out_dir`.

    Returns the three paths (`claims`, `patients`, `truth`) and counts (`n_patients`, `n_claims`,
    `n_planted`, `n_malformed`, `n_duplicates`, `n_reversals`).  The same arguments always give
    byte-identical files.  With fewer patients than templates, only the first `patients` templates are
    planted. `workload` is `general` or `serotonergic` (WORKLOADS: about half of the fills serotonergic);
    the planted patients and the truth file are the same in both.
    """
    if workload not in WORKLOADS:
        raise SerosurvError(f"Unknown workload {workload!r}: give one of {', '.join(WORKLOADS)}.")
    if patients < 1:
        raise SerosurvError(f"--patients must be at least 1, got {patients}.")
    if chunk_patients < 1:
        raise SerosurvError(f"chunk_patients must be at least 1, got {chunk_patients}.")
    if (end - start).days < 199:
        raise SerosurvError(
            f"The period {start} to {end} is too short for the planted cases: give at least 200 days."
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / f"{name}.parquet" for name in ("claims", "patients", "truth")}
    planted = planted_positions(patients)
    counters = _Counters()
    truths: list[dict] = []
    start_day, end_day = _days(start), _days(end)
    with (
        pq.ParquetWriter(paths["claims"], CLAIMS_SCHEMA) as claims_writer,
        pq.ParquetWriter(paths["patients"], PATIENTS_SCHEMA) as patients_writer,
    ):
        for chunk_index, first in enumerate(range(0, patients, chunk_patients)):
            n = min(chunk_patients, patients - first)
            claims, people, chunk_truth = _chunk(
                chunk_index, first, n, seed, start_day, end_day, planted, patients, counters, WORKLOADS[workload]
            )
            claims_writer.write_table(claims)
            patients_writer.write_table(people)
            truths.extend(chunk_truth)
    truth = pa.Table.from_pylist(truths, schema=TRUTH_SCHEMA).sort_by("patient_id")
    pq.write_table(truth, paths["truth"])
    return {
        **paths,
        "n_patients": patients,
        "n_claims": counters.claim,
        "n_planted": len(truths),
        "n_malformed": counters.malformed,
        "n_duplicates": counters.duplicates,
        "n_reversals": counters.reversals,
    }


__all__ = [
    "CLAIMS_SCHEMA",
    "MALFORMED_KINDS",
    "PATIENTS_SCHEMA",
    "TEMPLATES",
    "TRUTH_SCHEMA",
    "WORKLOADS",
    "Workload",
    "generate",
    "planted_positions",
]
