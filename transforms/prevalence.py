"""Prevalence of interacting combinations for researchers: person-level numerators and denominators per
interval and stratum, Wilson 95% intervals and small-cell suppression (docs/prevalence.md).

`prevalence_table(con, spec, ruleset)` returns one tidy frame, suppressed with transforms/suppression.py
(shared with the quality dashboard). The minimum cell size and the age bands are the [research] settings of
the latest successful night unless the spec gives its own. The counts are in sql/marts/prevalence_coexposure.sql and
sql/analyses/prevalence_counts.sql.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import duckdb
import polars as pl

from serosurv.core.config import ResearchConfig, recorded_config
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import RuleSet
from transforms.runs import latest_success
from transforms.sql import create_table, fetch, fetch_frame, fetch_value, table_from_rows
from transforms.suppression import Relation, suppress_cells

INTERVALS = ("month", "quarter", "year")
MEASURES = ("period", "point")
STRATA = ("age_band", "sex")
Z95 = 1.959963984540054
ANY_PAIR = "any interacting pair"
ALL = "all"
CONTRIBUTION_RULE = "partial: a person counts in an interval with at least one day in the window"
PERSON_LEVEL = "person: each person counts at most once per interval, row and stratum"


@dataclass(frozen=True)
class PrevalenceSpec:
    """What to measure. `denominator` is members, users_of_either or users_of:INGREDIENT (or CLASS).
    `min_cell` and `age_bands` (lower bounds of the bands after the first) default to the [research]
    settings of the latest successful night."""

    interval: str = "month"
    measure: str = "period"
    denominator: str = "users_of_either"
    by: tuple[str, ...] = ()
    pairs: tuple[str, ...] = (ALL,)
    start: date | None = None
    end: date | None = None
    min_cell: int | None = None
    age_bands: tuple[int, ...] | None = None

    def check(self) -> None:
        if self.interval not in INTERVALS:
            raise SerosurvError(f"--interval must be one of {', '.join(INTERVALS)}, not '{self.interval}'.")
        if self.measure not in MEASURES:
            raise SerosurvError(f"--measure must be one of {', '.join(MEASURES)}, not '{self.measure}'.")
        unknown = [name for name in self.by if name not in STRATA]
        if unknown:
            raise SerosurvError(f"--by takes {' and '.join(STRATA)}, not '{unknown[0]}'.")
        kind = self.denominator.split(":", 1)[0]
        if kind not in ("members", "users_of_either", "users_of") or (
            kind == "users_of" and not self.denominator.split(":", 1)[1:]
        ):
            raise SerosurvError(
                f"--denominator must be members, users_of_either or users_of:INGREDIENT, "
                f"not '{self.denominator}'."
            )
        if self.start and self.end and self.end < self.start:
            raise SerosurvError("--to must not be before --from.")
        self.research()  # min_cell and age_bands get the configuration's checks

    def configured(self, research: ResearchConfig) -> PrevalenceSpec:
        """This spec with the [research] settings filled in where it gives none."""
        return dataclasses.replace(
            self,
            min_cell=research.min_cell_count if self.min_cell is None else self.min_cell,
            age_bands=research.age_bands if self.age_bands is None else tuple(self.age_bands),
        )

    def research(self) -> ResearchConfig:
        """The spec's suppression and age bands as settings (after `configured`)."""
        given = {"min_cell_count": self.min_cell, "age_bands": self.age_bands}
        return ResearchConfig(**{name: value for name, value in given.items() if value is not None})


@dataclass
class OutputRow:
    label: str
    row_type: str  # pair, class_pair, any
    pairs: set[tuple[str, str]] = field(default_factory=set)
    users: set[str] = field(default_factory=set)


# ---------------------------------------------------------------------------- statistics


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | tuple[None, None]:
    """Wilson score interval for a binomial proportion (Wilson 1927); (None, None) when trials = 0."""
    if trials <= 0:
        return None, None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    lower = 0.0 if successes == 0 else max(0.0, centre - half)
    upper = 1.0 if successes == trials else min(1.0, centre + half)
    return lower, upper


# ---------------------------------------------------------------------------- intervals and rows


def interval_start(day: date, interval: str) -> date:
    if interval == "year":
        return date(day.year, 1, 1)
    if interval == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, day.month, 1)


def next_interval(start: date, interval: str) -> date:
    months = {"month": 1, "quarter": 3, "year": 12}[interval]
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def interval_label(start: date, interval: str) -> str:
    if interval == "year":
        return f"{start.year}"
    if interval == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start:%Y-%m}"


def intervals(first: date, last: date, interval: str) -> list[tuple[str, date, date]]:
    """The calendar intervals that meet [first, last]: (label, first day, last day)."""
    found, start = [], interval_start(first, interval)
    while start <= last:
        following = next_interval(start, interval)
        found.append((interval_label(start, interval), start, following - timedelta(days=1)))
        start = following
    return found


def _classes(ruleset: RuleSet) -> dict[str, str]:
    return {name: agent.drug_class for name, agent in ruleset.agents.items()}


def _resolve_names(text: str, ruleset: RuleSet) -> tuple[str, set[str]]:
    """'sertraline' -> ('ingredient', {sertraline}); 'SSRI' -> ('class', {its ingredients})."""
    name = text.strip()
    if name.lower() in {n.lower() for n in ruleset.agents}:
        ingredient = next(n for n in ruleset.agents if n.lower() == name.lower())
        return "ingredient", {ingredient}
    by_class: dict[str, set[str]] = {}
    for ingredient, drug_class in _classes(ruleset).items():
        by_class.setdefault(drug_class.lower(), set()).add(ingredient)
    if name.lower() in by_class:
        return "class", by_class[name.lower()]
    raise SerosurvError(
        f"'{name}' is neither an ingredient nor a drug class the rules know; see `serosurv rules list`."
    )


def output_rows(
    spec: PrevalenceSpec, ruleset: RuleSet, observed: set[tuple[str, str]]
) -> tuple[list[OutputRow], bool]:
    """The table's rows and whether the pair rows are complete (every pair with a case is a row)."""
    classes = _classes(ruleset)
    rule_pairs = {(a, b) for a, b in ruleset.pair_table().select("ingredient_a", "ingredient_b").iter_rows()}
    rule_ingredients = {i for pair in rule_pairs for i in pair}
    conditional: set[str] | None = None
    if spec.denominator.startswith("users_of:"):
        conditional = _resolve_names(spec.denominator.split(":", 1)[1], ruleset)[1]

    def keep(pair: tuple[str, str]) -> bool:
        return conditional is None or bool(conditional & set(pair))

    rows_: list[OutputRow] = []
    complete = list(spec.pairs) == [ALL]
    if complete:
        chosen = sorted(pair for pair in observed if keep(pair))
        for a, b in chosen:
            rows_.append(OutputRow(f"{a} + {b}", "pair", {(a, b)}, {a, b}))
        class_pairs: dict[str, OutputRow] = {}
        for a, b in chosen:
            ca, cb = sorted((classes.get(a, "unknown"), classes.get(b, "unknown")), key=str.lower)
            row = class_pairs.setdefault(f"{ca} + {cb}", OutputRow(f"{ca} + {cb}", "class_pair"))
            row.users |= {i for i in rule_ingredients if classes.get(i) in (ca, cb)}
        for label, row in class_pairs.items():
            ca, cb = label.split(" + ")
            row.pairs = {
                pair
                for pair in rule_pairs
                if keep(pair)
                and sorted((classes.get(pair[0]), classes.get(pair[1])), key=str.lower) == [ca, cb]
            }
        rows_.extend(class_pairs[label] for label in sorted(class_pairs, key=str.lower))
    else:
        for item in spec.pairs:
            sides = [side for side in item.replace("+", ",").split(",") if side.strip()]
            if len(sides) != 2:
                raise SerosurvError(
                    f"--pairs takes pairs written A+B (e.g. tramadol+sertraline), not '{item}'."
                )
            (kind_a, set_a), (kind_b, set_b) = (_resolve_names(side, ruleset) for side in sides)
            pairs = {
                pair
                for pair in rule_pairs
                if keep(pair)
                and ((pair[0] in set_a and pair[1] in set_b) or (pair[0] in set_b and pair[1] in set_a))
            }
            if kind_a == kind_b == "ingredient":
                a, b = sorted((*set_a, *set_b))
                if not pairs:
                    raise SerosurvError(
                        f"No interaction rule covers {a} + {b}; see `serosurv rules explain`."
                    )
                rows_.append(OutputRow(f"{a} + {b}", "pair", pairs, {a, b}))
            else:
                names = sorted((sides[0].strip(), sides[1].strip()), key=str.lower)
                rows_.append(OutputRow(" + ".join(names), "class_pair", pairs, set_a | set_b))
    any_pairs = {pair for pair in rule_pairs if keep(pair)}
    rows_.append(OutputRow(ANY_PAIR, "any", any_pairs, {i for pair in any_pairs for i in pair}))
    if conditional is not None:
        for row in rows_:
            row.users = set(conditional)
    return rows_, complete


# ---------------------------------------------------------------------------- the table


def run_parameters(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The latest successful night's run id, configuration and rules hashes, episode settings and
    [research] settings."""
    latest = latest_success(con)
    if latest is None:
        raise SerosurvError("The warehouse has no successful night yet; run `serosurv run` first.")
    run_id, as_of, config_hash, rules_hash, parameters = (
        latest[k] for k in ("run_id", "as_of", "config_hash", "rules_hash", "parameters")
    )
    settings = json.loads(parameters or "{}")
    return {
        "run_id": run_id,
        "as_of": as_of,
        "config_hash": config_hash or "",
        "rules_hash": rules_hash or "",
        "episode_settings": json.dumps(settings.get("episodes", {}), sort_keys=True),
        "interaction_settings": json.dumps(settings.get("interactions", {}), sort_keys=True),
        "research": recorded_config(settings).research,
    }


def prevalence_table(con: duckdb.DuckDBPyConnection, spec: PrevalenceSpec, ruleset: RuleSet) -> pl.DataFrame:
    """Prevalence per interval, stratum and row (pair, class pair, any interacting pair), suppressed."""
    spec.check()
    run = run_parameters(con)
    spec = spec.configured(run["research"])
    members = spec.denominator == "members"
    if members and not fetch_value(con, "analyses/members_with_coverage.sql"):
        raise SerosurvError(
            "The members denominator needs the patient table with coverage dates, and the warehouse has "
            "none; run a night with --patients FILE (coverage_start, coverage_end) or use "
            "--denominator users_of_either."
        )
    create_table(con, "prevalence_coexposure", "marts/prevalence_coexposure.sql", temp=True)
    observed = set(fetch(con, "analyses/coexposed_pairs.sql"))
    table_rows, complete = output_rows(spec, ruleset, observed)

    first = spec.start or fetch_value(con, "analyses/first_episode_start.sql") or run["as_of"]
    last = spec.end or run["as_of"]
    periods = intervals(first, last, spec.interval)
    point = spec.measure == "point"
    dates = dict.fromkeys(("interval_start", "interval_end", "window_start", "window_end"), pl.Date)
    interval_rows = [[label, s, e, s, s if point else e] for label, s, e in periods]
    table_from_rows(con, "prevalence_intervals", {"interval_label": pl.String, **dates}, interval_rows)
    pair_rows = [[row.label, a, b] for row in table_rows for a, b in sorted(row.pairs)]
    pair_schema = dict.fromkeys(("row_label", "ingredient_a", "ingredient_b"), pl.String)
    table_from_rows(con, "prevalence_row_pairs", pair_schema, pair_rows)
    user_rows = [[row.label, i] for row in table_rows for i in sorted(row.users)]
    table_from_rows(con, "prevalence_row_users", {"row_label": pl.String, "ingredient": pl.String}, user_rows)
    bands = spec.research()
    counts = fetch_frame(
        con,
        "analyses/prevalence_counts.sql",
        {"members": members, "age_bounds": list(bands.age_bands), "age_labels": list(bands.age_band_labels)},
    )

    # Keep the requested strata: a variable not asked for is always its margin ("all").
    for name, margin in (("age_band", "all_ages"), ("sex", "all_sexes")):
        if name not in spec.by:
            counts = counts.filter(pl.col(margin))
        counts = counts.with_columns(
            pl.when(pl.col(margin)).then(pl.lit(ALL)).otherwise(pl.col(name)).alias(name)
        )
    counts = counts.drop("all_ages", "all_sexes")
    if members:
        denominators = counts.filter(pl.col("row_label").is_null()).select(
            "interval_label", "age_band", "sex", pl.col("denominator").alias("member_denominator")
        )
        counts = counts.filter(pl.col("row_label").is_not_null()).drop("denominator")
    # Every interval x row x stratum cell, zeros included (a zero is a result too).
    strata = _strata(con, spec, counts if not members else denominators)
    grid = (
        pl.DataFrame({"interval_label": [p[0] for p in periods]})
        .join(pl.DataFrame({"row_label": [r.label for r in table_rows]}), how="cross")
        .join(strata, how="cross")
    )
    table = grid.join(counts, on=["interval_label", "row_label", "age_band", "sex"], how="left")
    if members:
        table = table.join(denominators, on=["interval_label", "age_band", "sex"], how="left").rename(
            {"member_denominator": "denominator"}
        )
    table = table.with_columns(pl.col("numerator").fill_null(0), pl.col("denominator").fill_null(0))
    table = _suppress(table, table_rows, complete, spec)
    return _finish(table, table_rows, periods, spec, run)


def _strata(con: duckdb.DuckDBPyConnection, spec: PrevalenceSpec, counts: pl.DataFrame) -> pl.DataFrame:
    """The strata of the table: every value seen in the patient table (or the counts), and 'all'."""
    ages = list(spec.research().age_band_labels)
    present = set(counts.get_column("age_band").to_list()) if "age_band" in spec.by else set()
    age_values = ([*ages, "unknown"] if "unknown" in present else ages) if "age_band" in spec.by else []
    sexes = sorted(
        {s for (s,) in fetch(con, "analyses/patient_sexes.sql")}
        | (set(counts.get_column("sex").to_list()) - {ALL} if "sex" in spec.by else set())
    )
    sex_values = sexes if "sex" in spec.by else []
    combos = [(ALL, ALL)] + [(a, ALL) for a in age_values] + [(ALL, s) for s in sex_values]
    combos += [(a, s) for a in age_values for s in sex_values]
    return pl.DataFrame(combos, schema=["age_band", "sex"], orient="row")


def _suppress(
    table: pl.DataFrame, table_rows: list[OutputRow], complete: bool, spec: PrevalenceSpec
) -> pl.DataFrame:
    """Suppress numerators and denominators from 1 to min_cell - 1 and their complements, interval by
    interval."""
    hidden_num: set[tuple] = set()
    hidden_den: set[tuple] = set()
    row_type = {row.label: row.row_type for row in table_rows}
    pairs_of = {row.label: row.pairs for row in table_rows}
    for (interval,), part in table.group_by(["interval_label"], maintain_order=True):
        num = {(r["row_label"], r["age_band"], r["sex"]): r["numerator"] for r in part.iter_rows(named=True)}
        den = {
            (r["row_label"], r["age_band"], r["sex"]): r["denominator"] for r in part.iter_rows(named=True)
        }
        strata = sorted({(a, s) for _, a, s in num})
        labels = sorted({label for label, _, _ in num})
        relations: list[Relation] = []
        for label in labels:
            relations += _strata_relations(label, strata)
        den_relations = list(relations)
        if complete:
            pair_labels = [label for label in labels if row_type[label] == "pair"]
            for age, sex in strata:
                relations.append(((ANY_PAIR, age, sex), [(p, age, sex) for p in pair_labels]))
                for label in labels:
                    if row_type[label] == "class_pair":
                        parts = [p for p in pair_labels if pairs_of[p] <= pairs_of[label]]
                        relations.append(((label, age, sex), [(p, age, sex) for p in parts]))
        # People without the combination are counted too (denominator - numerator): keep them >= 11 or 0.
        complement = [key for key in num if 0 < den[key] - num[key] < spec.min_cell]
        hidden_den_here = set()
        for label in labels:  # denominators: per row (identical rows give identical patterns)
            keys = [key for key in den if key[0] == label]
            hidden_den_here |= suppress_cells(
                {k: den[k] for k in keys}, [r for r in den_relations if r[0][0] == label], spec.min_cell
            )
        hidden_num_here = suppress_cells(num, relations, spec.min_cell, also=complement)
        hidden_num |= {(interval, *key) for key in hidden_num_here}
        hidden_den |= {(interval, *key) for key in hidden_den_here}
    on = ["interval_label", "row_label", "age_band", "sex"]
    num_hidden = _flags(hidden_num, on, "numerator_suppressed")
    den_hidden = _flags(hidden_den, on, "denominator_suppressed")
    return (
        table.join(num_hidden, on=on, how="left")
        .join(den_hidden, on=on, how="left")
        .with_columns(
            pl.col("numerator_suppressed").fill_null(False), pl.col("denominator_suppressed").fill_null(False)
        )
    )


def _flags(keys: set[tuple], on: list[str], name: str) -> pl.DataFrame:
    return pl.DataFrame(
        [list(k) for k in sorted(keys)], schema={c: pl.String for c in on}, orient="row"
    ).with_columns(pl.lit(True).alias(name))


def _strata_relations(label: str, strata: list[tuple[str, str]]) -> list[Relation]:
    """Within one row: each margin is the sum of the cells it covers."""
    ages = sorted({a for a, _ in strata if a != ALL})
    sexes = sorted({s for _, s in strata if s != ALL})
    relations: list[Relation] = []
    for sex in [ALL, *sexes]:
        if ages:
            relations.append(((label, ALL, sex), [(label, a, sex) for a in ages if (a, sex) in strata]))
    for age in [ALL, *ages]:
        if sexes:
            relations.append(((label, age, ALL), [(label, age, s) for s in sexes if (age, s) in strata]))
    return relations


def _finish(
    table: pl.DataFrame,
    table_rows: list[OutputRow],
    periods: list[tuple[str, date, date]],
    spec: PrevalenceSpec,
    run: dict[str, Any],
) -> pl.DataFrame:
    bounds = pl.DataFrame(
        [[label, s, e] for label, s, e in periods],
        schema=["interval_label", "interval_start", "interval_end"],
        orient="row",
    )
    info = pl.DataFrame(
        [[row.label, row.row_type] for row in table_rows], schema=["row_label", "row_type"], orient="row"
    )
    out = table.join(bounds, on="interval_label").join(info, on="row_label")
    estimates = [
        (k / n if n else None, *wilson_interval(k, n))
        for k, n in zip(
            out.get_column("numerator").to_list(), out.get_column("denominator").to_list(), strict=True
        )
    ]
    out = out.with_columns(
        pl.Series("estimate", [e[0] for e in estimates], dtype=pl.Float64),
        pl.Series("ci_lower", [e[1] for e in estimates], dtype=pl.Float64),
        pl.Series("ci_upper", [e[2] for e in estimates], dtype=pl.Float64),
    )
    hidden = pl.col("numerator_suppressed") | pl.col("denominator_suppressed")
    stratum = (
        pl.when((pl.col("age_band") == ALL) & (pl.col("sex") == ALL))
        .then(pl.lit(ALL))
        .otherwise(
            pl.concat_str(
                pl.when(pl.col("age_band") != ALL).then(pl.lit("age_band=") + pl.col("age_band")),
                pl.when(pl.col("sex") != ALL).then(pl.lit("sex=") + pl.col("sex")),
                separator="; ",
                ignore_nulls=True,
            )
        )
    )
    row_order = {row.label: i for i, row in enumerate(table_rows)}
    return (
        out.with_columns(
            pl.when(pl.col("numerator_suppressed"))
            .then(None)
            .otherwise(pl.col("numerator"))
            .alias("numerator"),
            pl.when(pl.col("denominator_suppressed"))
            .then(None)
            .otherwise(pl.col("denominator"))
            .alias("denominator"),
            *(
                pl.when(hidden).then(None).otherwise(pl.col(c)).alias(c)
                for c in ("estimate", "ci_lower", "ci_upper")
            ),
            hidden.alias("suppressed"),
            stratum.alias("stratum"),
            (pl.col("interval_start") if spec.measure == "point" else pl.lit(None, dtype=pl.Date)).alias(
                "point_date"
            ),
            pl.col("row_label").replace_strict(row_order, return_dtype=pl.Int64).alias("_order"),
        )
        .sort("interval_start", "_order", "age_band", "sex")
        .select(
            pl.col("interval_label").alias("interval"),
            "interval_start",
            "interval_end",
            "point_date",
            "stratum",
            "age_band",
            "sex",
            "row_type",
            pl.col("row_label").alias("pair"),
            "numerator",
            "denominator",
            "estimate",
            "ci_lower",
            "ci_upper",
            "suppressed",
            "numerator_suppressed",
            "denominator_suppressed",
            pl.lit(spec.measure).alias("measure"),
            pl.lit(spec.interval).alias("interval_type"),
            pl.lit(spec.denominator).alias("denominator_type"),
            pl.lit(CONTRIBUTION_RULE).alias("contribution_rule"),
            pl.lit(PERSON_LEVEL).alias("person_level"),
            pl.lit("overlap interactions (co-exposure days); washout-only interactions are not cases").alias(
                "case_definition"
            ),
            pl.lit(spec.min_cell).alias("suppression_min_count"),
            pl.lit(run["episode_settings"]).alias("episode_settings"),
            pl.lit(run["interaction_settings"]).alias("interaction_settings"),
            pl.lit(run["rules_hash"]).alias("rules_hash"),
            pl.lit(run["config_hash"]).alias("config_hash"),
            pl.lit(run["run_id"]).alias("run_id"),
        )
    )
