"""One TOML configuration file, read into dataclasses with documented defaults.

Every run records `config_hash` (sha256 of the effective configuration) so an output can always be
traced to the parameters that produced it.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from serosurv.errors import SerosurvError

DEFAULT_CONFIG_FILE = Path(__file__).resolve().parent.parent / "serosurv.toml"


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

    def __post_init__(self) -> None:
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
class ValidationConfig:
    earliest_fill_date: str = "2000-01-01"
    max_quarantine_rate: float = 0.05
    max_unknown_prescriber_rate: float = 0.25
    min_rows_accepted: int = 1


@dataclass(frozen=True)
class RulesConfig:
    include_related: bool = False
    directory: str = ""


@dataclass(frozen=True)
class AlertConfig:
    lookback_days: int = 30
    overlap_growth_days: int = 30


@dataclass(frozen=True)
class EngineConfig:
    incremental: bool = True
    buckets: int = 1
    dask_address: str = ""
    bucket_dir: str = ""


@dataclass(frozen=True)
class WarehouseConfig:
    memory_limit: str = ""
    threads: int = 0


@dataclass(frozen=True)
class Config:
    episodes: EpisodeConfig = field(default_factory=EpisodeConfig)
    interactions: InteractionConfig = field(default_factory=InteractionConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    warehouse: WarehouseConfig = field(default_factory=WarehouseConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)

    @property
    def hash(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _build(cls: type, values: dict[str, Any], where: str, source: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
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
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise SerosurvError(
                f"{source}: setting '{where}{key}' must be {expected.__name__}, got {value!r}."
            )
        if expected in (int, float) and value < 0:
            raise SerosurvError(f"{source}: setting '{where}{key}' must not be negative, got {value!r}.")
        kwargs[key] = value
    return cls(**kwargs)


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
