"""How each contract column of a claims file becomes text in the staging view `stg_raw`, and the checks a
row meets as it is read (README "Input"; docs/real-data.md, "Reading files as they are meant"):

- Text (every CSV column, Parquet strings) is taken as it is. In a CSV read in a declared encoding (or as
  UTF-16 from its byte-order mark) a byte the encoding could not decode is U+FFFD, and the row that holds
  one is quarantined `undecodable_text`: an id with a lost letter could merge two patients or prescribers.
- A binary Parquet column (BYTE_ARRAY without the string annotation) is decoded as UTF-8, Parquet's text
  encoding; a value that is not UTF-8 is `undecodable_text` (quarantine.raw keeps its bytes as \\xNN).
- A time-zone-aware Parquet timestamp (TIMESTAMP WITH TIME ZONE, an instant) becomes the local date and
  time in the zone the file records for the column (its Arrow schema's time zone, as pyarrow, pandas and
  Polars write it), else in `[source] timezone` (UTC by default): the fill date is the calendar date of
  the dispensing where it happened, whatever the time zone of the machine that runs the night.
- Other one-value types (dates, timestamps without a zone, numbers) are written as DuckDB writes them.
- A list, struct or map holds no single value: the file is refused, naming the column and what it must be.
- A field longer than `[source] max_field_length` characters is quarantined `field_too_long` (the reason
  says how long, never what it holds), so no report or query copies a runaway value.

Text timestamps need nothing here: '2025-03-01T23:30:00-05:00' is dated 2025-03-01, the date as written in
the writer's own offset (sql/staging/stg_checked.sql casts the text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from serosurv.core.errors import SerosurvError
from transforms.sql import fetch_value, sql_literal

ZONED = "TIMESTAMP WITH TIME ZONE"
FIXED_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
LOCAL_TIME = "%Y-%m-%d %H:%M:%S"
DATES = ("fill_date", "end_date")
NUMBERS = ("days_supply", "quantity", "fill_number")


@dataclass(frozen=True)
class Field:
    """A contract column of one file: `kind` is "text", "binary", "zoned" (an instant, shown in `zone`:
    an IANA name or a fixed offset such as '+05:30') or "typed" (any other one-value type)."""

    name: str
    kind: str = "text"
    zone: str = ""

    def text(self, column: str) -> str:
        """The column (`column`: a quoted identifier) as text."""
        if self.kind == "binary":
            return f"coalesce(try(decode({column})), cast({column} as varchar))"
        if self.kind == "zoned":
            return f"strftime({self._local(column)}, '{LOCAL_TIME}')"
        return f"cast({column} as varchar)"

    def _local(self, column: str) -> str:
        offset = FIXED_OFFSET.fullmatch(self.zone)
        if offset:  # DuckDB's time zones are names: an offset is added to UTC's wall time
            sign, hours, minutes = offset.groups()
            shift = (int(hours) * 60 + int(minutes)) * (-1 if sign == "-" else 1)
            return f"timezone('UTC', {column}) + to_minutes({shift})"
        return f"timezone({sql_literal(self.zone)}, {column})"

    def undecodable(self, column: str, lossy: bool) -> str | None:
        """The condition of a value with bytes that could not be decoded, if the column can hold one
        (`column`: a quoted identifier; `lossy`: the file was decoded with replacements)."""
        if self.kind == "binary":
            return f"{column} is not null and try(decode({column})) is null"
        if self.kind == "text" and lossy:
            return f"contains({column}, '\ufffd')"
        return None

    @property
    def can_be_long(self) -> bool:
        return self.kind in ("text", "binary")


def parquet_fields(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    described: dict[str, str],
    columns: dict[str, str],
    timezone: str,
) -> dict[str, Field]:
    """The contract's columns of a Parquet file (`columns`: contract name -> the file's column;
    `described`: the file's column -> DuckDB type) as fields; a column that holds no single value, or an
    instant in a zone DuckDB does not know, refuses the file in one sentence."""
    fields, zones = {}, None
    for name, column in columns.items():
        sql_type = described[column].upper()
        if shape := _nested(sql_type):
            raise SerosurvError(
                f"{path}: the column '{name}' holds {shape} in each row, not one value; it must be "
                f"{_expected(name)}."
            )
        if sql_type == ZONED:
            zones = _recorded_zones(path) if zones is None else zones
            zone = zones.get(column) or timezone
            zone = "UTC" if zone.upper() == "Z" else zone
            if not _known_zone(con, zone):
                raise SerosurvError(
                    f"{path}: the column '{name}' records its timestamps in a time zone DuckDB does not know; "
                    "write them in UTC, with an IANA zone name such as America/New_York, or as dates."
                )
            fields[name] = Field(name, "zoned", zone)
        elif sql_type == "BLOB":
            fields[name] = Field(name, "binary")
        elif sql_type == "VARCHAR":
            fields[name] = Field(name)
        else:
            fields[name] = Field(name, "typed")
    return fields


def _nested(sql_type: str) -> str:
    """What a type that holds several values per row holds ('' for a one-value type)."""
    if sql_type.endswith("]"):
        return "a list"
    for prefix, shape in (("STRUCT", "a struct"), ("MAP", "a map"), ("UNION", "a union of types")):
        if sql_type.startswith(prefix):
            return shape
    return ""


def _expected(name: str) -> str:
    if name in DATES:
        return "a date, a timestamp or text"
    if name in NUMBERS:
        return "a number or text"
    return "text"


def _recorded_zones(path: Path) -> dict[str, str]:
    """The time zone of each zoned timestamp column as the file's Arrow schema records it; none when the
    file has no Arrow schema (pyarrow would call its instants UTC: they say nothing of where they
    happened, and `[source] timezone` decides)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_metadata(path).metadata or {}
        if b"ARROW:schema" not in metadata:
            return {}
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError):
        return {}
    return {f.name: f.type.tz for f in schema if pa.types.is_timestamp(f.type) and f.type.tz}


def _known_zone(con: duckdb.DuckDBPyConnection, zone: str) -> bool:
    if FIXED_OFFSET.fullmatch(zone):
        return True
    try:
        return bool(fetch_value(con, "analyses/time_zone_known.sql", {"zone": zone}))
    except duckdb.Error:
        return False


def read_checks(
    fields: dict[str, Field],
    columns: dict[str, str],
    *,
    lossy: str | None,
    max_length: int,
    first: tuple[str, str, str] | None = None,
    otherwise: tuple[str, str] = ("null::varchar", "null::varchar"),
) -> tuple[str, str]:
    """The view's `reject_code` and `reject_reason` (SQL) for the rows of one file: `first` (a condition,
    its code and its reason: a CSV row wider than its header, whose fields cannot be placed), else the
    first field (in the contract's order) with bytes that could not be decoded (`lossy`: the encoding a
    CSV was decoded in with replacements; None if nothing was replaced), else the first field longer
    than `max_length` characters, else `otherwise` (an adapter's own rejection, as its file says).
    `columns`: contract name -> the file's column (a quoted identifier). Byte lengths are compared
    first: they cost nothing, and a field of more characters than the limit has at least as many bytes."""
    text = {name: field.text(columns[name]) for name, field in fields.items()}
    whens: list[tuple[str, str, str]] = [first] if first else []
    for name, field in fields.items():
        condition = field.undecodable(columns[name], lossy is not None)
        if condition:
            read_as = f"{lossy} text" if field.kind == "text" else "UTF-8 text (a binary Parquet column)"
            why = sql_literal(f"{name} has bytes that cannot be read as {read_as}")
            whens.append((condition, "'undecodable_text'", why))
    code, reason = otherwise
    long = [name for name, field in fields.items() if field.can_be_long]
    if long:
        over = [f"length({text[n]}) > {max_length:d}" for n in long]
        too_long = " ".join(f"when {o} then 'field_too_long'" for o in over)
        why_long = " ".join(
            f"when {o} then {sql_literal(n + ' has ')} || format('{{:,}}', length({text[n]})) || "
            + sql_literal(f" characters, more than [source] max_field_length ({max_length:,})")
            for n, o in zip(long, over, strict=True)
        )
        # greatest() skips NULLs; the one test every row pays (a few per cent of validation).
        any_long = f"greatest({', '.join(f'strlen({text[n]})' for n in long)}) > {max_length:d}"
        whens.append((any_long, f"case {too_long} else {code} end", f"case {why_long} else {reason} end"))
    if not whens:
        return code, reason
    return (
        "case " + " ".join(f"when {c} then {v}" for c, v, _ in whens) + f" else {code} end",
        "case " + " ".join(f"when {c} then {r}" for c, _, r in whens) + f" else {reason} end",
    )
