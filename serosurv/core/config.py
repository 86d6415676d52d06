"""One TOML configuration file, read into dataclasses with documented defaults.

Every run records `config_hash` (sha256 of the effective configuration) so an output can always be
traced to the parameters that produced it.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from serosurv.core.errors import SerosurvError

DEFAULT_CONFIG_FILE = Path(__file__).resolve().parents[2] / "serosurv.toml"


STOCKPILING = ("none", "carryover", "capped")
SAME_DAY = ("keep", "sum", "max")
END_CONVENTIONS = ("inclusive", "omop")


@dataclass(frozen=True)
class EpisodeConfig:
    grace_days: int = 7
    grace_percent: float = 0.0
    extension_days: int = 0
    min_episode_days: int = 1
    stockpiling: str = "none"
    stockpile_cap_days: int = 0
    stockpile_max_overlap_percent: float = 0.0
    same_day: str = "keep"
    end_convention: str = "inclusive"
    omop_persistence_days: int = 30
    # An ongoing order (a start without stop date or days supply, claims.ongoing) is exposure from its
    # start to the night, at most this many days (its start day is day 1).
    ongoing_max_days: int = 90

    def __post_init__(self) -> None:
        if self.ongoing_max_days < 1:
            raise SerosurvError(
                "Setting 'episodes.ongoing_max_days' must be at least 1 (the days an order without a stop "
                f"date counts as exposure, its start day included), got {self.ongoing_max_days!r}."
            )
        for name, allowed in (
            ("stockpiling", STOCKPILING),
            ("same_day", SAME_DAY),
            ("end_convention", END_CONVENTIONS),
        ):
            if getattr(self, name) not in allowed:
                raise SerosurvError(
                    f"Setting 'episodes.{name}' must be one of {', '.join(allowed)}, got {getattr(self, name)!r}."
                )
        if self.end_convention == "omop" and (self.stockpiling != "none" or self.same_day != "keep"):
            raise SerosurvError(
                "The OMOP drug_era end convention merges overlapping supplies as the OHDSI script does; "
                "use it with stockpiling = 'none' and same_day = 'keep'."
            )

    @property
    def effective_grace(self) -> tuple[int, float]:
        """(days, percent): the OMOP mode's persistence window replaces the grace.

        The era script joins an exposure starting up to 30 days after the previous (exclusive) end date;
        that end day counts as covered here, so 30 days of persistence are 29 uncovered days."""
        if self.end_convention == "omop":
            return max(self.omop_persistence_days - 1, 0), 0.0
        return self.grace_days, self.grace_percent


@dataclass(frozen=True)
class InteractionConfig:
    merge_gap_days: int = 30


@dataclass(frozen=True)
class Limit:
    """One data-quality check's two levels (README, "The data-quality gate"): past `warn` the night goes
    on and the report says so; past `stop` the night stops and explains itself. 0 turns a level off.
    Whether a level is a floor or a ceiling is the check's (transforms/quality.py CHECKS); for a trend
    check it is a factor around the median of the trailing nights (2 = from half to double)."""

    warn: float = 0.0
    stop: float = 0.0


@dataclass(frozen=True)
class GateChecks:
    """The gate's checks over the night's profile (one row per night, table night_profiles); each with a
    reason in serosurv.toml."""

    quarantine_rate: Limit = Limit(warn=0.02, stop=0.05)
    rule_mapped_share: Limit = Limit(warn=0.01, stop=0.001)
    code_only_mapped_share: Limit = Limit(warn=0.01, stop=0.001)
    code_vs_name_share: Limit = Limit(warn=0.5, stop=0.0)
    recognised_share: Limit = Limit(warn=0.5, stop=0.05)
    reversal_share: Limit = Limit(warn=0.10, stop=0.30)
    known_prescriber_share: Limit = Limit(warn=0.9, stop=0.0)
    known_pharmacy_share: Limit = Limit(warn=0.9, stop=0.0)
    newest_fill_lag_days: Limit = Limit(warn=14, stop=60)
    patients_per_claim: Limit = Limit(warn=0.01, stop=0.002)
    long_supply_share: Limit = Limit(warn=0.02, stop=0.20)
    volume_trend: Limit = Limit(warn=2.0, stop=5.0)
    rule_mapped_share_trend: Limit = Limit(warn=2.0, stop=5.0)
    known_prescriber_share_trend: Limit = Limit(warn=1.25, stop=2.0)
    known_pharmacy_share_trend: Limit = Limit(warn=1.25, stop=2.0)
    patients_per_claim_trend: Limit = Limit(warn=1.5, stop=3.0)
    median_days_supply_trend: Limit = Limit(warn=1.5, stop=3.0)

    def __post_init__(self) -> None:
        for f in fields(self):
            limit = getattr(self, f.name)
            for which in ("warn", "stop"):
                level = getattr(limit, which)
                if f.name.endswith("_trend") and 0 < level < 1:
                    raise SerosurvError(
                        f"Setting 'validation.checks.{f.name}.{which}' is a factor around the median of earlier "
                        f"nights: 0 (off) or at least 1 (2 = from half to double), got {level!r}."
                    )
                if f.name.endswith(("_share", "_rate")) and level > 1:
                    raise SerosurvError(
                        f"Setting 'validation.checks.{f.name}.{which}' is a share from 0 to 1, got {level!r}."
                    )


EMPTY_NIGHT = ("warn", "stop")


@dataclass(frozen=True)
class ValidationConfig:
    # Fill dates before this are implausible and quarantined (a row check).
    earliest_fill_date: str = "2000-01-01"
    # A night without new claims (a holiday extract) goes on and says so ("warn"), or stops ("stop").
    empty_night: str = "warn"
    # Trend checks compare a night with the median of this many earlier successful, non-empty nights...
    history_nights: int = 14
    # ... once there are at least this many; before that only the absolute levels apply.
    min_history_nights: int = 3
    # Shares are judged only over at least this many claims (a 40-claim night has no reliable shares).
    min_claims_for_shares: int = 500
    checks: GateChecks = field(default_factory=GateChecks)

    def __post_init__(self) -> None:
        if self.empty_night not in EMPTY_NIGHT:
            raise SerosurvError(
                f"Setting 'validation.empty_night' must be one of {', '.join(EMPTY_NIGHT)}, got {self.empty_night!r}."
            )
        if self.min_history_nights < 1 or self.history_nights < self.min_history_nights:
            raise SerosurvError(
                "Settings 'validation.history_nights' and 'validation.min_history_nights' must satisfy "
                f"1 <= min_history_nights <= history_nights, got {self.min_history_nights} and {self.history_nights}."
            )


# Settings that were renamed: a configuration still using the old name is told the new one.
RENAMED_SETTINGS = {
    "validation.max_quarantine_rate": "validation.checks.quarantine_rate = { warn = ..., stop = ... }",
    "validation.max_unknown_prescriber_rate": "validation.checks.known_prescriber_share (now a share of "
    "claims WITH a prescriber: 0.25 unknown is stop = 0.75)",
    "validation.min_rows_accepted": 'validation.empty_night = "stop" (a night without new claims) and '
    "validation.checks.volume_trend",
}


# The canonical fields a source may declare it never carries ([source] absent_fields).
SOURCE_FIELDS = ("prescriber_id", "pharmacy_id")
# Values exports write for "no prescriber / no pharmacy" besides empty and zero (which always mean unknown):
# a database's placeholder key, and what R, SQL tools and spreadsheets write for a missing value.
UNKNOWN_IDS = ("-1", "UNKNOWN", "UNK", "NA", "N/A", "NULL", "NONE")


@dataclass(frozen=True)
class SourceConfig:
    """How canonical claims files are read (README, Input; docs/real-data.md, "Reading files as they are
    meant").

    `encoding`: of CSV/TSV files. "auto" reads UTF-8 (with or without a byte-order mark) and UTF-16 with a
    byte-order mark, and refuses any other file that is not UTF-8 (Latin-1 and Windows-1252 cannot be told
    apart from the bytes); a declared encoding (any Python codec name: "latin-1", "cp1252", "utf-16",
    "utf-8"...) is read as declared, and a row with bytes it cannot decode is quarantined
    (`undecodable_text`). Parquet text is UTF-8 by the format.
    `timezone`: the zone whose calendar date a Parquet timestamp that records an instant but no zone is
    given (TIMESTAMP adjusted to UTC written without an Arrow time zone, as Spark or DuckDB write it).
    `max_field_length`: a field longer than this many characters is quarantined (`field_too_long`).
    `absent_fields`: canonical fields the source never carries (e.g. a hospital's orders have no dispensing
    pharmacy): the gate does not judge them and the report says that fragmentation across them cannot be
    measured. The input formats declare theirs (transforms/adapters).
    `unknown_ids`: prescriber and pharmacy ids that mean "unknown" (besides empty and zero, however
    written), in every input format; kept trimmed and upper-case, as sql/macros/known_id.sql compares.
    """

    encoding: str = "auto"
    timezone: str = "UTC"
    max_field_length: int = 1000
    absent_fields: tuple[str, ...] = ()
    unknown_ids: tuple[str, ...] = UNKNOWN_IDS

    def __post_init__(self) -> None:
        unknown = [f for f in self.absent_fields if f not in SOURCE_FIELDS]
        if unknown:
            raise SerosurvError(
                f"Setting 'source.absent_fields' may name {', '.join(SOURCE_FIELDS)}, got {unknown!r}."
            )
        object.__setattr__(self, "absent_fields", tuple(self.absent_fields))
        if isinstance(self.unknown_ids, str) or any(
            not isinstance(i, str) or not i.strip() for i in self.unknown_ids
        ):
            raise SerosurvError(
                "Setting 'source.unknown_ids' must be a list of non-empty texts (ids meaning an unknown "
                f'prescriber or pharmacy, e.g. ["-1", "UNKNOWN"]), got {self.unknown_ids!r}.'
            )
        object.__setattr__(
            self, "unknown_ids", tuple(dict.fromkeys(i.strip().upper() for i in self.unknown_ids))
        )
        import codecs
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        if self.encoding != "auto":
            try:
                known = codecs.lookup(self.encoding)._is_text_encoding
            except LookupError:
                known = False
            if not known:
                raise SerosurvError(
                    'Setting \'source.encoding\' must be "auto" or a text encoding such as "latin-1", "cp1252", '
                    f'"utf-16" or "utf-8", got {self.encoding!r}.'
                )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SerosurvError(
                "Setting 'source.timezone' must be an IANA time zone such as 'America/New_York' or 'UTC', "
                f"got {self.timezone!r}."
            ) from None
        if isinstance(self.max_field_length, bool) or self.max_field_length < 1:
            raise SerosurvError(
                f"Setting 'source.max_field_length' must be a whole number of at least 1, got {self.max_field_length!r}."
            )


JURISDICTIONS = ("us", "fr", "strictest")


@dataclass(frozen=True)
class RulesConfig:
    include_related: bool = False
    directory: str = ""
    # whose level a rule takes: US labels and FDA (us), the French ANSM thesaurus where it rates the pair (fr),
    # or the higher of the two (strictest)
    jurisdiction: str = "us"

    def __post_init__(self) -> None:
        if self.jurisdiction not in JURISDICTIONS:
            raise SerosurvError(
                f"Setting 'rules.jurisdiction' must be one of {', '.join(JURISDICTIONS)}, got {self.jurisdiction!r}."
            )


@dataclass(frozen=True)
class PriorityWeights:
    """Points of an alert's priority (README, Priority). Severity always comes first: the other parts
    together must stay below one severity level."""

    severity: float = 100.0  # per level: contraindicated 4 ... minor 1
    cross_prescriber: float = 20.0  # the two drugs from different prescribers
    cross_pharmacy: float = 10.0  # ... and different pharmacies
    recent_week: float = 5.0  # newest fill within 7 days of the night
    recent_month: float = 2.0  # ... else within 30 days
    overlap_max: float = 5.0  # overlap length, reached at 30 days of co-exposure
    burden: float = 2.0  # three or more prescribers of serotonergic drugs in the window

    def __post_init__(self) -> None:
        others = (
            self.cross_prescriber
            + self.cross_pharmacy
            + max(self.recent_week, self.recent_month)
            + self.overlap_max
            + self.burden
        )
        if others >= self.severity:
            raise SerosurvError(
                f"Settings [alerts.priority]: the parts other than severity add up to {others:g}, not below the "
                f"severity weight {self.severity:g}; severity must always come first."
            )


@dataclass(frozen=True)
class AlertConfig:
    lookback_days: int = 30
    overlap_growth_days: int = 30
    # A resolved alert of at least this severity that nobody acted on stays on the worklist ("resolved,
    # never reviewed") until someone records an action; "" turns this off.
    keep_unreviewed_resolved: str = "contraindicated"
    priority: PriorityWeights = field(default_factory=PriorityWeights)

    def __post_init__(self) -> None:
        from serosurv.core.severity import SEVERITY_RANK

        if self.keep_unreviewed_resolved not in ("", *SEVERITY_RANK):
            raise SerosurvError(
                f"Setting 'alerts.keep_unreviewed_resolved' must be a severity ({', '.join(SEVERITY_RANK)}) "
                f'or "" for never, got {self.keep_unreviewed_resolved!r}.'
            )

    @property
    def unreviewed_min_rank(self) -> int:
        """Severity rank from which resolved, never-reviewed alerts stay listed (0: never)."""
        from serosurv.core.severity import SEVERITY_RANK

        return SEVERITY_RANK.get(self.keep_unreviewed_resolved, 0)


@dataclass(frozen=True)
class ResearchConfig:
    """What the quality dashboard and the prevalence tables publish (docs/prevalence.md, docs/privacy.md):
    counts from 1 to min_cell_count - 1 are suppressed, and people are stratified into age bands whose
    lower bounds (after the first band, from 0) are `age_bands`: (18, 45, 65, 75) gives 0-17, 18-44, 45-64,
    65-74 and 75+. `lookback_days`: an interval whose window starts fewer days than this after the first
    claim is marked left-censored (supplies dispensed before the data begins are unknown, so its estimates
    are low). Not part of the configuration hash: nights are computed the same whatever they say."""

    min_cell_count: int = 11
    age_bands: tuple[int, ...] = (18, 45, 65, 75)
    lookback_days: int = 90

    def __post_init__(self) -> None:
        count = self.min_cell_count
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise SerosurvError(
                "Setting 'research.min_cell_count' must be a whole number of at least 1 (counts below it are "
                f"suppressed; 1 suppresses nothing), got {count!r}."
            )
        bands = self.age_bands
        if not isinstance(bands, list | tuple) or not bands:
            raise SerosurvError(
                "Setting 'research.age_bands' must be a list of the ages at which each band after the first "
                f"starts, e.g. [18, 45, 65, 75], got {bands!r}."
            )
        if any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in bands):
            raise SerosurvError(
                f"Setting 'research.age_bands' must hold positive whole numbers of years, got {list(bands)!r}."
            )
        if any(later <= earlier for earlier, later in zip(bands, bands[1:], strict=False)):
            raise SerosurvError(
                f"Setting 'research.age_bands' must be strictly increasing, got {list(bands)!r}."
            )
        object.__setattr__(self, "age_bands", tuple(bands))
        lookback = self.lookback_days
        if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 0:
            raise SerosurvError(
                "Setting 'research.lookback_days' must be a whole number of days, 0 or more (intervals starting "
                f"fewer days after the first claim are marked left-censored), got {lookback!r}."
            )

    @property
    def age_band_labels(self) -> tuple[str, ...]:
        """The bands' names, youngest first: '0-17', '18-44', ..., '75+'."""
        starts = (0, *self.age_bands)
        labels = [
            f"{start}-{following - 1}" if following - 1 > start else f"{start}"
            for start, following in zip(starts, starts[1:], strict=False)
        ]
        return (*labels, f"{starts[-1]}+")

    @property
    def suppressed_mark(self) -> str:
        """What a suppressed count shows instead of its value: '<11'."""
        return f"<{self.min_cell_count}"


@dataclass(frozen=True)
class EngineConfig:
    incremental: bool = True
    buckets: int = 1
    dask_address: str = ""
    bucket_dir: str = ""


@dataclass(frozen=True)
class PrivacyConfig:
    """Keyed pseudonymisation of patient, prescriber and pharmacy ids at ingest (docs/privacy.md)."""

    pseudonymise: bool = False
    key_env: str = "SEROSURV_PSEUDONYM_KEY"

    def __post_init__(self) -> None:
        import re

        # Only a variable's name belongs here (the configuration is recorded in every run): a value that
        # does not look like one may be the key itself, so it is refused without being echoed.
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]{0,63}", self.key_env):
            raise SerosurvError(
                "Setting 'privacy.key_env' must be the name of an environment variable (upper-case letters, "
                "digits and _, e.g. SEROSURV_PSEUDONYM_KEY); put the key in that variable, never in the file."
            )


@dataclass(frozen=True)
class WarehouseConfig:
    # The warehouse file every command uses (run, alerts, report, prevalence, reference, query...); empty =
    # ./serosurv.duckdb. The environment variable SEROSURV_WAREHOUSE overrides it, --warehouse both.
    path: str = ""
    memory_limit: str = ""
    threads: int = 0
    temp_directory: str = ""
    # Seconds a command waits for the warehouse while another process holds it (serosurv's write lock,
    # DuckDB's file lock) before it stops with one sentence; 0 = never wait. Not in the configuration hash.
    busy_timeout: float = 600.0


NIGHTS = ("previous_day", "same_day")
_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_NAMES = {
    "month": {m: i + 1 for i, m in enumerate(_MONTHS)},
    "day-of-week": {d: i for i, d in enumerate(_WEEKDAYS)},
}


def cron_problem(expression: str) -> str:
    """What is wrong with a five-field cron expression (minute hour day-of-month month day-of-week); ''."""
    parts = expression.split()
    if len(parts) != 5:
        return "needs five fields (minute hour day-of-month month day-of-week)"
    for text, (name, low, high) in zip(parts, _CRON_FIELDS, strict=True):
        for item in text.split(","):
            base, slash, step = item.partition("/")
            if slash and not (step.isdigit() and int(step) > 0):
                return f"has a bad step '{item}' in the {name} field"
            for bound in [] if base == "*" else base.split("-", 1):
                value = _CRON_NAMES.get(name, {}).get(bound.lower(), int(bound) if bound.isdigit() else None)
                if value is None or not low <= value <= high:
                    return f"has '{item}' in the {name} field, which allows {low}-{high}"
    return ""


@dataclass(frozen=True)
class ScheduleConfig:
    """When `serosurv serve` runs a night, which files it reads and how it retries (see docs/operations.md)."""

    name: str = "nightly"
    cron: str = "30 2 * * *"
    timezone: str = "UTC"
    night: str = "previous_day"
    claims: str = ""
    patients: str = ""
    format: str = "canonical"
    out_dir: str = "out"
    retries: int = 4
    retry_delay_seconds: int = 60
    retry_max_delay_seconds: int = 1800

    def __post_init__(self) -> None:
        from datetime import date
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        if not self.name or any(c in self.name for c in "/%"):
            raise SerosurvError(
                f"Setting 'schedule.name' must be a name without '/' or '%', got {self.name!r}."
            )
        if problem := cron_problem(self.cron):
            raise SerosurvError(f"Setting 'schedule.cron' {problem}, got {self.cron!r}.")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SerosurvError(
                f"Setting 'schedule.timezone' must be an IANA time zone such as 'America/New_York', got {self.timezone!r}."
            ) from None
        if self.night not in NIGHTS:
            raise SerosurvError(
                f"Setting 'schedule.night' must be one of {', '.join(NIGHTS)}, got {self.night!r}."
            )
        for key in ("claims", "patients"):
            try:
                getattr(self, key).format(date=date(2000, 1, 31))
            except (KeyError, IndexError, ValueError):
                raise SerosurvError(
                    f"Setting 'schedule.{key}' may only use the placeholder {{date}} (or e.g. {{date:%Y%m%d}}), "
                    f"got {getattr(self, key)!r}."
                ) from None
        if self.retries > 20:
            raise SerosurvError(f"Setting 'schedule.retries' must be at most 20, got {self.retries}.")
        if self.retry_max_delay_seconds < self.retry_delay_seconds:
            raise SerosurvError(
                "Setting 'schedule.retry_max_delay_seconds' must not be below 'schedule.retry_delay_seconds'."
            )

    @property
    def retry_delays(self) -> list[int]:
        """Seconds to wait before each retry: doubling from retry_delay_seconds, capped at the maximum."""
        return [
            min(self.retry_delay_seconds * 2**i, self.retry_max_delay_seconds) for i in range(self.retries)
        ]


@dataclass(frozen=True)
class Config:
    episodes: EpisodeConfig = field(default_factory=EpisodeConfig)
    interactions: InteractionConfig = field(default_factory=InteractionConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    warehouse: WarehouseConfig = field(default_factory=WarehouseConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    research: ResearchConfig = field(default_factory=ResearchConfig)

    @property
    def hash(self) -> str:
        # [schedule] says when and from where nights run, not how they are computed: leaving it out means
        # editing it never forces a full recompute, and hashes recorded before it existed still match.
        # [research] is left out alike: it changes what the dashboard and prevalence publish, not a night.
        # [privacy] counts only when on (pseudonyms change every output), and [source] only when it differs
        # from its defaults (what a night accepts changes), so hashes recorded before either existed match.
        left_out = {"schedule", "research"} | (set() if self.privacy.pseudonymise else {"privacy"})
        # ([source] absent_fields never counts: it says what the source lacks, not how a night is computed.)
        left_out |= {"source"} if replace(self.source, absent_fields=()) == SourceConfig() else set()
        values = {k: v for k, v in asdict(self).items() if k not in left_out}
        values["warehouse"].pop("path")  # where the warehouse is says nothing of how nights are computed
        # The gate's levels decide whether a night goes on, not what it computes.
        for key in ("checks", "empty_night", "history_nights", "min_history_nights", "min_claims_for_shares"):
            values["validation"].pop(key)
        values["warehouse"].pop("busy_timeout")  # nor how long a command waits for it
        if "source" in values:
            values["source"].pop("absent_fields")
        text = json.dumps(values, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _build(cls: type, values: dict[str, Any], where: str, source: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            if f"{where}{key}" in RENAMED_SETTINGS:
                raise SerosurvError(
                    f"{source}: setting '{where}{key}' was renamed; use {RENAMED_SETTINGS[where + key]} "
                    "(see serosurv.toml)."
                )
            raise SerosurvError(
                f"{source}: unknown setting '{where}{key}'; see serosurv.toml for the documented settings."
            )
        default = known[key].default_factory() if callable(known[key].default_factory) else known[key].default
        if is_dataclass(default):
            if not isinstance(value, dict):
                raise SerosurvError(f"{source}: '{where}{key}' must be a table ([{key}]).")
            kwargs[key] = _build(type(default), value, f"{where}{key}.", source)
            continue
        expected = type(default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if expected is tuple and isinstance(value, list):
            value = tuple(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            kind = "a list" if expected is tuple else expected.__name__
            raise SerosurvError(f"{source}: setting '{where}{key}' must be {kind}, got {value!r}.")
        if expected in (int, float) and value < 0:
            raise SerosurvError(f"{source}: setting '{where}{key}' must not be negative, got {value!r}.")
        kwargs[key] = value
    return cls(**kwargs)


WAREHOUSE_ENV = "SEROSURV_WAREHOUSE"
DEFAULT_WAREHOUSE = "serosurv.duckdb"


def warehouse_path(given: Path | str | None = None, config: Config | None = None) -> Path:
    """The warehouse file of a command: `given` (--warehouse), else $SEROSURV_WAREHOUSE, else the
    configuration's [warehouse] path, else ./serosurv.duckdb. One rule for every command, so commands
    run one after another find the same warehouse."""
    import os

    for candidate in (given, os.environ.get(WAREHOUSE_ENV), config.warehouse.path if config else ""):
        if candidate:
            return Path(candidate)
    return Path(DEFAULT_WAREHOUSE)


BUSY_TIMEOUT_ENV = "SEROSURV_BUSY_TIMEOUT"


@dataclass(frozen=True)
class BusyWait:
    """How long a command waits for a warehouse another process holds, and the setting that says so
    (named in the messages, so the user knows what to change)."""

    seconds: float
    setting: str


def busy_wait(config: Config | None = None) -> BusyWait:
    """The wait of a command: $SEROSURV_BUSY_TIMEOUT, else the configuration's [warehouse] busy_timeout
    (commands with --config: run, serve), else its default. One rule, like `warehouse_path`."""
    import os

    text = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
    if text:
        try:
            seconds = float(text)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds < float("inf"):
            raise SerosurvError(
                f"{BUSY_TIMEOUT_ENV} must be a number of seconds (0 or more), got {text[:40]!r}."
            )
        return BusyWait(seconds, BUSY_TIMEOUT_ENV)
    seconds = (config or Config()).warehouse.busy_timeout
    # Without a configuration file (alerts, query, reports...) the variable is what the user can set.
    return BusyWait(seconds, "[warehouse] busy_timeout" if config is not None else BUSY_TIMEOUT_ENV)


def recorded_config(parameters: str | dict[str, Any] | None) -> Config:
    """The configuration a run recorded (`runs.parameters`, JSON): its settings, and the defaults of any
    setting added since (a night recorded before [research] existed has its defaults); settings no longer
    known are ignored. Reports use it to describe a night with the settings it actually ran with."""
    if isinstance(parameters, str) or parameters is None:
        try:
            parameters = json.loads(parameters or "{}")
        except ValueError:
            parameters = {}
    if not isinstance(parameters, dict):
        parameters = {}
    return _build(Config, _known_settings(Config, parameters), "", "the run's recorded parameters")


def _known_settings(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    known = {f.name: f for f in fields(cls)}
    kept: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            continue
        default = known[key].default_factory() if callable(known[key].default_factory) else known[key].default
        if is_dataclass(default):
            if isinstance(value, dict):
                kept[key] = _known_settings(type(default), value)
            continue
        kept[key] = value
    return kept


def load_config(path: Path | str | None = None) -> Config:
    """Read the configuration; without a path, the documented defaults (serosurv.toml)."""
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise SerosurvError(f"Configuration file {path} does not exist.")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SerosurvError(f"{path}: not valid TOML ({exc}).") from None
    return _build(Config, values, "", str(path))
