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
import numpy as np
import polars as pl

from serosurv.core.config import ResearchConfig, recorded_config
from serosurv.core.drugnames import map_drug_name
from serosurv.core.errors import SerosurvError
from serosurv.core.rules import RuleSet
from transforms.runs import latest_success
from transforms.sql import create_table, fetch, fetch_frame, fetch_one, fetch_value, table_from_rows
from transforms.suppression import COMPLEMENTARY, PRIMARY, hierarchy_supports, suppress_cube

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
    group: int = -1  # the denominator's user group (rows with the same denominator drugs share one)


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


@dataclass(frozen=True)
class Named:
    """A drug as the user named it: an ingredient, a drug class, or a name a pharmacy sends (brand, salt,
    strength) mapped to its ingredients as `serosurv rules explain` maps it."""

    kind: str  # ingredient or class
    ingredients: frozenset[str]
    name: str  # the rules' spelling: the ingredient(s) or the class
    given: str  # as written

    def words(self) -> str:
        shown = self.name if self.kind == "ingredient" else f"any {self.name}"
        return shown if self.given.lower() == self.name.lower() else f"{shown} ({self.given})"


def resolve_name(text: str, ruleset: RuleSet, option: str) -> Named:
    """'sertraline' -> the ingredient; 'SSRI' -> the class and its ingredients; 'Zoloft 50 mg' -> sertraline
    (brand names and other pharmacy spellings as rules explain reads them). One sentence naming the option
    when the rules know no such drug."""
    given = text.strip()
    for ingredient in ruleset.agents:
        if ingredient.lower() == given.lower():
            return Named("ingredient", frozenset({ingredient}), ingredient, given)
    by_class: dict[str, tuple[str, set[str]]] = {}
    for ingredient, drug_class in _classes(ruleset).items():
        by_class.setdefault(drug_class.lower(), (drug_class, set()))[1].add(ingredient)
    if given.lower() in by_class:
        drug_class, members = by_class[given.lower()]
        return Named("class", frozenset(members), drug_class, given)
    mapped = sorted({ingredient for ingredient, _ in map_drug_name(given, ruleset)}) if given else []
    if mapped:
        return Named("ingredient", frozenset(mapped), " + ".join(mapped), given)
    raise SerosurvError(
        f"{option}: '{given}' is neither a drug (ingredient or brand name) nor a drug class the rules know; "
        "see `serosurv rules list`."
    )


def denominator_named(spec: PrevalenceSpec, ruleset: RuleSet) -> Named | None:
    """The drug of a users_of:X denominator, resolved (None for members and users_of_either)."""
    if not spec.denominator.startswith("users_of:"):
        return None
    return resolve_name(spec.denominator.split(":", 1)[1], ruleset, "--denominator users_of")


def denominator_words(spec: PrevalenceSpec, ruleset: RuleSet) -> str:
    """The denominator in words, for the summary page."""
    if spec.denominator == "members":
        return "members: people whose coverage meets the window (the same for every row)"
    named = denominator_named(spec, ruleset)
    if named is None:
        return (
            "users of either drug: people with an episode of either drug of the row in the window (a class "
            "pair: any drug of either class; any interacting pair: any rule drug)"
        )
    return f"users of {named.words()}: people with an episode of it in the window (conditional prevalence)"


def output_rows(
    spec: PrevalenceSpec, ruleset: RuleSet, observed: set[tuple[str, str]]
) -> tuple[list[OutputRow], bool]:
    """The table's rows and whether the pair rows are complete (every pair with a case is a row)."""
    classes = _classes(ruleset)
    rule_pairs = {(a, b) for a, b in ruleset.pair_table().select("ingredient_a", "ingredient_b").iter_rows()}
    rule_ingredients = {i for pair in rule_pairs for i in pair}
    named = denominator_named(spec, ruleset)
    conditional: set[str] | None = set(named.ingredients) if named else None

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
                    f"--pairs takes pairs written A+B (e.g. tramadol+sertraline or zoloft+SSRI), not '{item}'."
                )
            side_a, side_b = (resolve_name(side, ruleset, "--pairs") for side in sides)
            set_a, set_b = side_a.ingredients, side_b.ingredients
            pairs = {
                pair
                for pair in rule_pairs
                if keep(pair)
                and ((pair[0] in set_a and pair[1] in set_b) or (pair[0] in set_b and pair[1] in set_a))
            }
            names = " + ".join(sorted((side_a.name, side_b.name), key=str.lower))
            if not pairs:
                among = f" among users of {named.name}" if named else ""
                raise SerosurvError(
                    f"--pairs: no interaction rule covers {names}{among}; see `serosurv rules explain`."
                )
            if side_a.kind == side_b.kind == "ingredient" and len(set_a) == len(set_b) == 1:
                rows_.append(OutputRow(names, "pair", pairs, set(set_a | set_b)))
            else:
                rows_.append(OutputRow(names, "class_pair", pairs, set(set_a | set_b)))
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


def data_span(con: duckdb.DuckDBPyConnection, run: dict[str, Any]) -> tuple[date, date]:
    """The days the warehouse can measure: its first claim's fill date (or first episode) to the latest
    night."""
    first_fill = fetch_one(con, "analyses/claims_span.sql")["first_fill"]
    first_episode = fetch_value(con, "analyses/first_episode_start.sql")
    known = [day for day in (first_fill, first_episode) if day is not None]
    if not known:
        raise SerosurvError("The warehouse holds no claims yet; run `serosurv run` with a claims file first.")
    return min(known), run["as_of"]


def measured_range(
    spec: PrevalenceSpec, first_data: date, last_data: date, first_episode: date | None
) -> tuple[date, date]:
    """[--from, --to] with their defaults, or one sentence when it misses the data altogether."""
    if spec.start and spec.start > last_data:
        raise SerosurvError(
            f"--from {spec.start} is after the warehouse's data, which ends on {last_data} (the latest night); "
            "choose an earlier date."
        )
    if spec.end and spec.end < first_data:
        raise SerosurvError(
            f"--to {spec.end} is before the warehouse's first claim ({first_data}); choose a later date."
        )
    first = spec.start or first_episode or first_data
    last = spec.end or last_data
    if first > last:  # --to before the first episode, after the first claim
        raise SerosurvError(
            f"No exposure episode lies between {first_data} and --to {spec.end}; choose a later --to."
        )
    return first, last


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
    first_data, last_data = data_span(con, run)
    create_table(con, "prevalence_coexposure", "marts/prevalence_coexposure.sql", temp=True)
    observed = set(fetch(con, "analyses/coexposed_pairs.sql"))
    table_rows, complete = output_rows(spec, ruleset, observed)

    first, last = measured_range(
        spec, first_data, last_data, fetch_value(con, "analyses/first_episode_start.sql")
    )
    periods = intervals(first, last, spec.interval)
    point = spec.measure == "point"
    dates = dict.fromkeys(("interval_start", "interval_end", "window_start", "window_end"), pl.Date)
    interval_rows = [[label, s, e, s, s if point else e] for label, s, e in periods]
    table_from_rows(con, "prevalence_intervals", {"interval_label": pl.String, **dates}, interval_rows)
    # rows with the same denominator drugs share a user group, counted once
    groups: dict[frozenset[str], int] = {}
    for row in table_rows:
        row.group = -1 if members else groups.setdefault(frozenset(row.users), len(groups))
    table_from_rows(
        con,
        "prevalence_rows",
        {"row_label": pl.String, "user_group": pl.Int64},
        [[row.label, row.group] for row in table_rows],
    )
    pair_rows = [[row.label, a, b] for row in table_rows for a, b in sorted(row.pairs)]
    pair_schema = dict.fromkeys(("row_label", "ingredient_a", "ingredient_b"), pl.String)
    table_from_rows(con, "prevalence_row_pairs", pair_schema, pair_rows)
    user_rows = [[group, i] for users, group in groups.items() for i in sorted(users)]
    table_from_rows(
        con, "prevalence_user_groups", {"user_group": pl.Int64, "ingredient": pl.String}, user_rows
    )
    bands = spec.research()
    counts = fetch_frame(
        con,
        "analyses/prevalence_counts.sql",
        {"members": members, "age_bounds": list(bands.age_bands), "age_labels": list(bands.age_band_labels)},
    )
    strata = _strata(con, spec, counts)
    numerators = _margins(
        counts.filter(pl.col("measure") == "numerator"), ["interval_label", "row_label"], spec.by
    ).rename({"people": "numerator"})
    denominators = _margins(
        counts.filter(pl.col("measure") == "denominator"), ["interval_label", "user_group"], spec.by
    ).rename({"people": "denominator"})
    # Every interval x row x stratum cell, zeros included (a zero is a result too).
    rows_frame = pl.DataFrame(
        {"row_label": [r.label for r in table_rows], "user_group": [r.group for r in table_rows]},
        schema={"row_label": pl.String, "user_group": pl.Int64},
    )
    table = (
        pl.DataFrame({"interval_label": [p[0] for p in periods]}, schema={"interval_label": pl.String})
        .join(rows_frame, how="cross")
        .join(strata, how="cross")
        .join(numerators, on=["interval_label", "row_label", "age_band", "sex"], how="left")
        .join(denominators, on=["interval_label", "user_group", "age_band", "sex"], how="left")
        .with_columns(pl.col("numerator").fill_null(0), pl.col("denominator").fill_null(0))
    )
    table = _suppress(table, table_rows, complete, spec)
    lookback_end = first_data + timedelta(days=spec_lookback(run))
    return _finish(table, table_rows, periods, spec, run, lookback_end)


def spec_lookback(run: dict[str, Any]) -> int:
    """The latest night's [research] lookback_days: intervals starting within it of the first claim are
    left-censored."""
    return int(run["research"].lookback_days)


def _margins(frame: pl.DataFrame, keys: list[str], by: tuple[str, ...]) -> pl.DataFrame:
    """The innermost counts with every margin the strata ask for (a stratum not asked for is always 'all'):
    sums, since each person is in one age band and one sex per interval."""
    parts = []
    for keep_age in (True, False) if "age_band" in by else (False,):
        for keep_sex in (True, False) if "sex" in by else (False,):
            parts.append(
                frame.with_columns(
                    pl.col("age_band") if keep_age else pl.lit(ALL).alias("age_band"),
                    pl.col("sex") if keep_sex else pl.lit(ALL).alias("sex"),
                )
                .group_by([*keys, "age_band", "sex"])
                .agg(pl.col("people").sum())
            )
    return pl.concat(parts).with_columns(pl.col("people").cast(pl.Int64))


def _strata(con: duckdb.DuckDBPyConnection, spec: PrevalenceSpec, counts: pl.DataFrame) -> pl.DataFrame:
    """The strata of the table: every value seen in the patient table (or the counts), and 'all'."""
    ages = list(spec.research().age_band_labels)
    present = set(counts.get_column("age_band").to_list()) if "age_band" in spec.by else set()
    age_values = ([*ages, "unknown"] if "unknown" in present else ages) if "age_band" in spec.by else []
    sexes = sorted(
        {s for (s,) in fetch(con, "analyses/patient_sexes.sql")}
        | (set(counts.get_column("sex").to_list()) if "sex" in spec.by else set())
    )
    sex_values = sexes if "sex" in spec.by else []
    combos = [(a, s) for a in [ALL, *age_values] for s in [ALL, *sex_values]]
    return pl.DataFrame(combos, schema=["age_band", "sex"], orient="row")


ROW_LEVEL = {"pair": 0, "class_pair": 1, "any": 2}  # how much of a total a row is (complements: lowest first)


def _suppress(
    table: pl.DataFrame, table_rows: list[OutputRow], complete: bool, spec: PrevalenceSpec
) -> pl.DataFrame:
    """Suppress numerators and denominators from 1 to min_cell - 1 and their complements, interval by
    interval (transforms/suppression.suppress_cube): each cell's `*_suppression` is primary ("<11"),
    complementary ("suppressed") or null (published)."""
    labels = [row.label for row in table_rows]
    ages = [ALL, *sorted(set(table.get_column("age_band").to_list()) - {ALL})]
    sexes = [ALL, *sorted(set(table.get_column("sex").to_list()) - {ALL})]
    intervals_ = list(dict.fromkeys(table.get_column("interval_label").to_list()))
    groups = sorted({row.group for row in table_rows})
    index = table.with_columns(
        pl.col("interval_label")
        .replace_strict({v: i for i, v in enumerate(intervals_)}, return_dtype=pl.Int64)
        .alias("_t"),
        pl.col("row_label")
        .replace_strict({v: i for i, v in enumerate(labels)}, return_dtype=pl.Int64)
        .alias("_r"),
        pl.col("user_group")
        .replace_strict({v: i for i, v in enumerate(groups)}, return_dtype=pl.Int64)
        .alias("_g"),
        pl.col("age_band")
        .replace_strict({v: i for i, v in enumerate(ages)}, return_dtype=pl.Int64)
        .alias("_a"),
        pl.col("sex").replace_strict({v: i for i, v in enumerate(sexes)}, return_dtype=pl.Int64).alias("_s"),
    )
    t, r, g, a, x = (index.get_column(c).to_numpy() for c in ("_t", "_r", "_g", "_a", "_s"))
    shape = (len(intervals_), len(labels), len(ages), len(sexes))
    num = np.zeros(shape, dtype=np.int64)
    den_rows = np.zeros(shape, dtype=np.int64)
    num[t, r, a, x] = index.get_column("numerator").to_numpy()
    den_rows[t, r, a, x] = index.get_column("denominator").to_numpy()
    den = np.zeros((len(intervals_), len(groups), len(ages), len(sexes)), dtype=np.int64)
    den[t, g, a, x] = index.get_column("denominator").to_numpy()
    # people without the combination are counted too (denominator - numerator): keep them >= min_cell or 0
    without = den_rows - num
    forced = (without > 0) & (without < spec.min_cell)
    row_levels = np.array([ROW_LEVEL[row.row_type] for row in table_rows])
    margin = (np.arange(len(ages)) == 0)[:, None].astype(int) * (len(ages) > 1) + (
        np.arange(len(sexes)) == 0
    )[None, :].astype(int) * (len(sexes) > 1)
    levels = row_levels[:, None, None] + margin[None, :, :]
    if complete:
        position = {label: i for i, label in enumerate(labels)}
        grand = position[ANY_PAIR]
        pair_labels = [row.label for row in table_rows if row.row_type == "pair"]
        groups_of = {
            position[row.label]: [
                position[p] for p in pair_labels if table_rows[position[p]].pairs <= row.pairs
            ]
            for row in table_rows
            if row.row_type == "class_pair"
        }
        rows_supports = hierarchy_supports(len(labels), grand, groups_of)
    else:
        rows_supports = hierarchy_supports(len(labels), None, {})
    group_supports = hierarchy_supports(len(groups), None, {})
    hidden_num = np.zeros(shape, dtype=bool)
    hidden_den = np.zeros(den.shape, dtype=bool)
    for i in range(len(intervals_)):
        hidden_num[i] = suppress_cube(num[i], rows_supports, spec.min_cell, also=forced[i], levels=levels)
        hidden_den[i] = suppress_cube(den[i], group_supports, spec.min_cell)
    row_group = np.array([groups.index(row.group) for row in table_rows])
    hidden_den_rows = hidden_den[:, row_group]

    def kind(hidden: np.ndarray, values: np.ndarray) -> np.ndarray:
        small = (values > 0) & (values < spec.min_cell)
        return np.where(hidden & small, PRIMARY, np.where(hidden, COMPLEMENTARY, None))

    num_kind = kind(hidden_num, num)[t, r, a, x]
    den_kind = kind(hidden_den_rows, den_rows)[t, r, a, x]
    return table.with_columns(
        pl.Series("numerator_suppression", num_kind.tolist(), dtype=pl.String),
        pl.Series("denominator_suppression", den_kind.tolist(), dtype=pl.String),
    ).with_columns(
        pl.col("numerator_suppression").is_not_null().alias("numerator_suppressed"),
        pl.col("denominator_suppression").is_not_null().alias("denominator_suppressed"),
    )


def _finish(
    table: pl.DataFrame,
    table_rows: list[OutputRow],
    periods: list[tuple[str, date, date]],
    spec: PrevalenceSpec,
    run: dict[str, Any],
    lookback_end: date,
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
            "numerator_suppression",
            "denominator_suppression",
            (pl.col("interval_start") < lookback_end).alias("left_censored"),
            pl.lit(spec.measure).alias("measure"),
            pl.lit(spec.interval).alias("interval_type"),
            pl.lit(spec.denominator).alias("denominator_type"),
            pl.lit(CONTRIBUTION_RULE).alias("contribution_rule"),
            pl.lit(PERSON_LEVEL).alias("person_level"),
            pl.lit("overlap interactions (co-exposure days); washout-only interactions are not cases").alias(
                "case_definition"
            ),
            pl.lit(spec.min_cell).alias("suppression_min_count"),
            pl.lit(spec_lookback(run)).alias("lookback_days"),
            pl.lit(run["episode_settings"]).alias("episode_settings"),
            pl.lit(run["interaction_settings"]).alias("interaction_settings"),
            pl.lit(run["rules_hash"]).alias("rules_hash"),
            pl.lit(run["config_hash"]).alias("config_hash"),
            pl.lit(run["run_id"]).alias("run_id"),
        )
    )


def describe(spec: PrevalenceSpec, ruleset: RuleSet) -> dict[str, str]:
    """What a table measures, in words, for its summary page: title, measure, rows, denominator, strata."""
    rows = (
        "interacting combinations: every ingredient pair with a case, its class pair, and any interacting pair"
        if list(spec.pairs) == [ALL]
        else " and ".join(spec.pairs) + ", and any interacting pair"
    )
    named = denominator_named(spec, ruleset)
    among = {"members": "members", "users_of_either": "users of either drug"}.get(
        spec.denominator, f"users of {named.words() if named else spec.denominator}"
    )
    what = "interacting combinations" if list(spec.pairs) == [ALL] else ", ".join(spec.pairs)
    strata = {
        (): "none: everyone together",
        ("age_band",): "age band",
        ("sex",): "sex",
    }.get(tuple(spec.by), "age band and sex, with both margins")
    return {
        "title": f"Prevalence of {what} among {among} — {spec.measure}, by {spec.interval}",
        "measure": "period: a co-exposure day anywhere in the interval"
        if spec.measure == "period"
        else "point: co-exposed on the interval's first day",
        "rows": rows,
        "denominator": denominator_words(spec, ruleset),
        "strata": strata,
    }
