"""Ingest: present claims files (CSV, Parquet, gzip) as the staging view `stg_raw`, as text, with lineage.

Everything is read as text so that a malformed value becomes a quarantined row with a reason, never a
failed read. Lineage: the file name and the 1-based data row number (the header is not counted). A CSV
row with more fields than the header (a value with an unquoted comma, or a delimiter at the end of the
line) is quarantined as `too_many_fields`: which of its values belong to which column cannot be known,
and an empty last field cannot be told from a shifted row whose last value is empty.

Files are read as they are meant (`[source]`): a CSV in its encoding (transforms/text_encoding.py: under
"auto" a file that is not UTF-8 is refused, naming the line and the setting), Parquet columns as
transforms/field_text.py says (zoned timestamps dated where they happened, binary columns decoded, lists
and structs refused). Rows with bytes that could not be decoded (`undecodable_text`) or a field longer
than `[source] max_field_length` (`field_too_long`) are flagged in the staging view itself, before
pseudonymisation could hide either.

Refusals (SerosurvError) name the file and never quote the file's contents: in a file without a header
row, the "column names" are a patient's values.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import sys
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from serosurv.core.config import SourceConfig
from serosurv.core.errors import SerosurvError, header_note
from serosurv.core.warehouse import CANONICAL_COLUMNS, count_rows
from transforms import text_encoding
from transforms.field_text import Field, parquet_fields, read_checks
from transforms.sql import (
    drop_views,
    fetch,
    replace_rows,
    sql_identifier,
    sql_literal,
    table_from_rows,
)

REQUIRED = ("claim_id", "patient_id", "fill_date")
# An order feed may carry only start dates and `ongoing` (orders that run until stopped).
ONE_OF = (("days_supply", "end_date", "ongoing"), ("ndc", "rxcui", "drug_name"))
CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz", ".tsv", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
# Written by transforms/adapters next to the canonical columns; honoured only in adapter output.
LINEAGE = ("source_file", "source_row", "raw", "reject_code", "reject_reason")
ROW, OVERFLOW = "__row", "__overflow"  # columns of the Parquet a CSV is converted to
BATCH_ROWS = 100_000
MASK = "\udc00"  # stands for a line-break character inside a record while the csv module reads it
# Parse every field of every row, read or not: a row longer than the header must fail the fast read.
EVERY_FIELD = pl.QueryOptFlags(projection_pushdown=False)

log = logging.getLogger("serosurv")


def file_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise SerosurvError(
        f"{path}: unknown file type; claims files must be CSV (.csv, .tsv, optionally .gz) or Parquet (.parquet)."
    )


def check_columns(path: Path, present: Collection[str], width: int, hint: str) -> None:
    """The contract's required columns are in the header. Of the header, the message names only the
    contract's columns it found: the others may be data (a file without a header row)."""
    if present:
        found = [c for c in (*CANONICAL_COLUMNS, *LINEAGE) if c in present]
        others = width - len(found)
        summary = f"the header has {', '.join(found)}" + (f" and {others} other column(s)" if others else "")
    else:
        summary = f"none of the header's {width} column(s) is a claims column; {hint}"
    for column in REQUIRED:
        if column not in present:
            raise SerosurvError(f"{path}: required column '{column}' is missing ({summary}).")
    for group in ONE_OF:
        if not set(present).intersection(group):
            raise SerosurvError(f"{path}: needs one of the columns {', '.join(group)} ({summary}).")


def _contract_columns(path: Path, header: list[str | None], known: Collection[str]) -> dict[str, int]:
    """Contract name -> position in the header, for the header's names that are `known` once trimmed,
    without a byte-order mark and in lower case. The header's other columns are not read.

    Two columns that name the same field (e.g. `claim_id` and `CLAIM_ID `) are refused: which one to
    trust cannot be guessed."""
    positions: dict[str, int] = {}
    for position, column in enumerate(header):
        name = (column or "").strip().lstrip("\ufeff").strip().lower()
        if name in known:
            if name in positions:
                raise SerosurvError(
                    f"{path}: the column '{name}' appears more than once in the header; keep one."
                )
            positions[name] = position
    return positions


def _without_values(message: str) -> str:
    """A reader's message, first sentence, without what it quotes (it can quote a value of the file) or
    bytes it echoes (a damaged file's)."""
    first = (message.strip().splitlines() or [""])[0]
    first = re.sub(r"\"[^\"]*\"|'[^']*'", "…", first)
    first = "".join(c if c.isprintable() else "?" for c in first)
    return re.split(r"(?<=[.!?])\s", first)[0].rstrip(" .:") or "unreadable"


def _unreadable_parquet(path: Path, exc: duckdb.Error) -> SerosurvError:
    """The one-sentence refusal of a Parquet file DuckDB cannot read, quoting none of it."""
    return SerosurvError(f"{path}: cannot be read as Parquet ({_without_values(str(exc))}).")


def _csv_to_parquet(
    path: Path, workdir: Path, known: Collection[str], encoding: str
) -> tuple[Path, list[str], int, text_encoding.Reading]:
    """Stream a CSV into a text-only Parquet file of the contract's columns with the row numbers (Polars
    keeps file order) and whether each row had more fields than the header; returns the file, the
    contract's columns in it, the header's width and how its bytes were decoded (a file in another
    encoding than UTF-8 is transcoded into a UTF-8 copy under `workdir` first)."""
    target = workdir / (path.name.replace(".", "_") + ".parquet")
    with _csv_errors(path):
        how = _csv_reading(path, encoding)
        readable = path
        if how.transcode:
            readable = workdir / (path.name.replace(".", "_") + ".utf-8.txt")
            text_encoding.transcode(path, how.codec, readable)
        options = _csv_options(path, how)
        if options["separator"] != default_separator(path):
            log.info(
                "%s: read as %s-separated (its header's columns are separated by %s, not by %ss)",
                path.name,
                SEPARATORS[options["separator"]],
                repr(options["separator"]),
                SEPARATORS[default_separator(path)],
            )
        header, positions = _csv_header(path, how, options, known)
        frame = pl.scan_csv(readable, **options)
        names = frame.collect_schema().names()
        # The file's last bytes, found while Polars reads it (a gzip file is decompressed a second time to
        # find them; zlib lets other threads run meanwhile).
        with ThreadPoolExecutor(max_workers=1) as pool:
            tail = pool.submit(_after_last_line_break, readable, options["eol_char"].encode())
            try:
                frame.select(
                    *(pl.col(names[i]).alias(name) for name, i in positions.items()),
                    pl.lit(False).alias(OVERFLOW),
                ).with_row_index(ROW, offset=1).sink_parquet(target, optimizations=EVERY_FIELD)
                ragged = _last_row_too_wide(tail.result(), options["separator"], len(header))
            except pl.exceptions.ComputeError as exc:
                if how.strict and "utf-8" in str(exc).lower():
                    raise _not_utf8(path) from None
                if not str(exc).startswith("found more fields than defined"):
                    raise
                ragged = True
        if ragged:
            log.info("%s: some rows have more fields than the header; reading it row by row", path.name)
            # Another file: the failed sink's threads may still be writing the first one.
            target = target.with_name(target.stem + "-rows.parquet")
            try:
                _ragged_csv_to_parquet(readable, how, options, positions, len(header), target)
            except UnicodeDecodeError:
                raise _not_utf8(path) from None
    return target, list(positions), len(header), how


def _last_row_too_wide(tail: bytes, separator: str, width: int) -> bool:
    """Whether the file's last row, when no line break ends it (`tail`: the bytes after the last one), has
    more fields than the header: Polars refuses any other such row, but reads that one as if a delimiter at
    its end were not there. When the tail holds an odd number of quotes (a quoted field that may span lines)
    the row-by-row reader decides."""
    if not tail:
        return False
    if tail.count(b'"') % 2:
        return True
    row = next(csv.reader([tail.decode("utf-8", "replace")], delimiter=separator), [])
    return len(row) > width


def _after_last_line_break(path: Path, eol: bytes) -> bytes:
    """The bytes after the file's last `eol` (empty when a line break ends the file)."""
    if text_encoding.is_gzip(path):
        tail = b""
        with text_encoding.open_bytes(path) as handle:
            while chunk := handle.read(1 << 20):
                tail += chunk
                end = tail.rfind(eol)
                if end >= 0:
                    tail = tail[end + 1 :]
        return tail
    with path.open("rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        tail = b""
        while position > 0:
            step = min(1 << 16, position)
            position -= step
            handle.seek(position)
            tail = handle.read(step) + tail
            end = tail.rfind(eol)
            if end >= 0:
                return tail[end + 1 :]
        return tail


def _csv_reading(path: Path, encoding: str) -> text_encoding.Reading:
    """How the file's bytes are decoded; a file read as UTF-8 under "auto" whose first MiB is not UTF-8
    is refused here, before its header is read."""
    how = text_encoding.reading(path, encoding)
    if how.strict:
        line = text_encoding.first_bad_utf8_line(path, limit=text_encoding.HEAD_BYTES)
        if line is not None:
            raise text_encoding.not_utf8(path, line)
    return how


def _not_utf8(path: Path) -> SerosurvError:
    """The refusal of a file under "auto" that Polars found not to be UTF-8 beyond its first MiB: the
    file is read once more, in Python, to name the line (the failure path only)."""
    line = text_encoding.first_bad_utf8_line(path)
    if line is None:  # Polars and Python disagree on what is UTF-8: name the kind of problem only
        raise UnicodeError("not UTF-8")
    return text_encoding.not_utf8(path, line)


# The delimiters a claims CSV may use, and their names in what serosurv says.
SEPARATORS = {",": "comma", "\t": "tab", "|": "pipe", ";": "semicolon"}


def default_separator(path: Path) -> str:
    """Tab for a .tsv file, else comma."""
    return "\t" if ".tsv" in path.name.lower() else ","


def sniff_separator(path: Path, how: text_encoding.Reading) -> str:
    """The delimiter of a claims CSV, told from its header: of comma, tab, pipe and semicolon, the one that
    splits the header into the most contract column names (claim_id, patient_id...); the default (tab
    for .tsv, else comma) unless another splits it into more. Names, not counts of characters, decide: a
    drug name or a date format may hold any of them, the header's names hold none."""
    default = default_separator(path)
    try:
        start = text_encoding.start_as_utf8(path, how.codec).decode("utf-8", errors="replace")
    except (OSError, EOFError):
        return default  # the reader will name the problem
    line = re.split(r"\r\n|\r|\n", start.lstrip("\ufeff"), maxsplit=1)[0]

    def names(separator: str) -> int:
        fields = next(csv.reader([line], delimiter=separator), [])
        return len({f.strip().lower() for f in fields} & set(CANONICAL_COLUMNS))

    best = max(SEPARATORS, key=lambda s: (names(s), s == default))
    return best if names(best) > names(default) else default


def _csv_options(path: Path, how: text_encoding.Reading) -> dict[str, Any]:
    return {
        "separator": sniff_separator(path, how),
        "infer_schema": False,
        # Under "auto" a byte that is not UTF-8 stops the read (and the file is refused); a file in a
        # declared encoding keeps U+FFFD for such bytes, and the rows holding one are quarantined.
        "encoding": "utf8" if how.strict else "utf8-lossy",
        "eol_char": _line_end(path, how),
    }


@contextmanager
def _csv_errors(path: Path) -> Iterator[None]:
    """A CSV the readers cannot read, as one sentence that quotes none of it."""
    try:
        yield
    except pl.exceptions.NoDataError:
        raise SerosurvError(f"{path}: the file is empty (no header row).") from None
    except (pl.exceptions.PolarsError, OSError, EOFError, csv.Error, UnicodeError) as exc:
        # The reader's own message can quote a line of the file (patient ids): name only its kind.
        raise SerosurvError(
            f"{path}: cannot be read as CSV ({type(exc).__name__}); check that it is complete, "
            "separated by commas, tabs, pipes or semicolons, quoted with double quotes and in the encoding [source] encoding "
            "declares (UTF-8 by default)."
        ) from None


def _csv_header(
    path: Path, how: text_encoding.Reading, options: dict[str, Any], known: Collection[str]
) -> tuple[list, dict[str, int]]:
    """The header as written (Polars would rename a repeated name) and the contract's columns in it,
    checked: the required ones are there. Read from the decoded start of the file, so that the check
    before the night needs no transcoded copy."""
    header = _header(path, how, options)
    if not any((name or "").strip().lstrip("\ufeff").strip() for name in header):
        raise pl.exceptions.NoDataError("no header")
    positions = _contract_columns(path, header, known)
    delimiter = SEPARATORS[options["separator"]]
    hint = f"check that the file is {delimiter}-separated and starts with a header row"
    check_columns(path, positions, len(header), hint)
    return header, positions


def refuse_repeated_files(paths: list[Path]) -> None:
    """A claims file given twice would load its rows twice under the same lineage (file, row): refused."""
    seen: set[Path] = set()
    for path in map(Path, paths):
        if path.resolve() in seen:
            raise SerosurvError(f"Claims file {path} is given twice: give each file once.")
        seen.add(path.resolve())


def check_claims_files(paths: list[Path], source: SourceConfig | None = None) -> None:
    """What can be told of canonical claims files before a night starts, from their start alone: each
    exists, is CSV or Parquet, can be read and has the contract's required columns; a CSV read as UTF-8
    starts as UTF-8, a Parquet file's contract columns hold one value per row in a time zone that is known
    (the same checks, and the same sentences, as staging). A night then refuses a bad file in a second,
    not after Prefect."""
    source = source or SourceConfig()
    refuse_repeated_files(paths)
    for path in map(Path, paths):
        if not path.is_file():
            raise SerosurvError(f"Claims file {path} does not exist.")
        if file_kind(path) == "csv":
            with _csv_errors(path):
                how = _csv_reading(path, source.encoding)
                _csv_header(path, how, _csv_options(path, how), CANONICAL_COLUMNS)
        else:
            with duckdb.connect() as con:
                _parquet_fields(con, path, CANONICAL_COLUMNS, source)


def _line_end(path: Path, how: text_encoding.Reading) -> str:
    """'\r' when the file's first line ends with a bare carriage return (old Mac exports; Polars would
    read the whole file as one header line), else '\n' (which reads CRLF too). Told from the decoded
    start: in UTF-16 a CRLF is b'\r\x00\n\x00', whose CR no LF byte follows."""
    try:
        start = text_encoding.start_as_utf8(path, how.codec)
    except (OSError, EOFError):
        return "\n"  # the reader will name the problem
    return "\r" if text_encoding.line_break(start) == b"\r" else "\n"


def _header(path: Path, how: text_encoding.Reading, options: dict) -> list[str | None]:
    """The first record of the file's decoded start (its first MiB: a header is far shorter)."""
    start = io.BytesIO(text_encoding.start_as_utf8(path, how.codec))
    first = pl.read_csv(
        start, has_header=False, n_rows=1, truncate_ragged_lines=True, **(options | {"encoding": "utf8"})
    )
    return list(first.row(0)) if first.height else []


def _records(handle, eol: str):
    """The file's lines, split only where Polars splits records (at `eol`; '\n' ends '\r\n' too), for
    the csv module, which would also end a row at the other line-break character in an unquoted
    field: that one is masked with a lone surrogate, which decoded text cannot hold."""
    other = "\r" if eol == "\n" else "\n"
    for line in handle:
        end = "\r\n" if eol == "\n" and line.endswith("\r\n") else eol if line.endswith(eol) else ""
        yield line[: len(line) - len(end)].replace(other, MASK) + end


def _ragged_csv_to_parquet(
    path: Path,
    how: text_encoding.Reading,
    options: dict[str, Any],
    positions: dict[str, int],
    width: int,
    target: Path,
) -> None:
    """The same Parquet for a CSV whose rows are not all as wide as its header, read with Python's csv
    module (slower than Polars, so only for such files). A row with more fields than the header is
    flagged; a shorter row has nulls for the fields it lacks, as Polars reads it. `path` is UTF-8 (a
    file in another encoding is transcoded first); under "auto" a byte that is not UTF-8 raises
    UnicodeDecodeError, as Polars refuses it."""
    import pyarrow.parquet as pq

    csv.field_size_limit(sys.maxsize)  # a very long field is a value like any other
    separator, eol = options["separator"], options["eol_char"]
    schema = {ROW: pl.Int64, **dict.fromkeys(positions, pl.String), OVERFLOW: pl.Boolean}
    batch: list[tuple] = []
    errors = "strict" if how.strict else "replace"
    with (
        io.TextIOWrapper(
            text_encoding.open_bytes(path), encoding="utf-8", errors=errors, newline=eol
        ) as handle,
        pq.ParquetWriter(target, pl.DataFrame(schema=schema).to_arrow().schema) as writer,
    ):
        rows = csv.reader(_records(handle, eol), delimiter=separator)
        next(rows, None)  # the header
        other = "\r" if eol == "\n" else "\n"
        for number, row in enumerate(rows, start=1):
            values = (
                row[i].replace(MASK, other) if i < len(row) and row[i] != "" else None
                for i in positions.values()
            )
            batch.append((number, *values, len(row) > width))
            if len(batch) == BATCH_ROWS:
                writer.write_table(pl.DataFrame(batch, schema=schema, orient="row").to_arrow())
                batch.clear()
        writer.write_table(pl.DataFrame(batch, schema=schema, orient="row").to_arrow())


def _contract_copy(
    con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, columns: dict[str, str]
) -> Path:
    """The contract's columns of a Parquet file whose own column named `file_row_number` hides DuckDB's
    row number, copied in file order (DuckDB preserves insertion order): the copy's row numbers are the
    file's. (Made of the file's own column names: no statement in sql/ can name them.)"""
    target = workdir / "contract-copy.parquet"
    select = ", ".join(f"{sql_identifier(column)} as {name}" for name, column in columns.items())
    literal = sql_literal(str(target))
    try:
        con.execute(
            f"copy (select {select} from read_parquet($p)) to {literal} (format parquet)", {"p": str(path)}
        )
    except duckdb.Error as exc:
        raise _unreadable_parquet(path, exc) from None
    return target


def _parquet_columns(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """The file's columns as written, with their DuckDB types."""
    try:
        described = fetch(con, "analyses/parquet_columns.sql", {"p": str(path)})
    except duckdb.Error as exc:
        raise _unreadable_parquet(path, exc) from None
    return {name: sql_type for name, sql_type, *_ in described}


def _parquet_fields(
    con: duckdb.DuckDBPyConnection, path: Path, known: Collection[str], source: SourceConfig
) -> tuple[dict[str, str], dict[str, Field], list[str]]:
    """A Parquet file's contract columns (contract name -> the file's column), how each canonical one
    becomes text, and the file's column names; checked as the night's check and staging both check it:
    the required columns are there, and each holds one value per row (a list, struct or map refuses the
    file), with zoned timestamps in a zone DuckDB knows."""
    described = _parquet_columns(con, path)
    header = list(described)
    columns = {name: header[i] for name, i in _contract_columns(path, header, known).items()}
    check_columns(path, columns, len(header), "check the column names against the input contract")
    canonical = {name: columns[name] for name in CANONICAL_COLUMNS if name in columns}
    return columns, parquet_fields(con, path, described, canonical, source.timezone), header


@dataclass(frozen=True)
class _Staged:
    """One file as the staging view reads it: the Parquet file read (the user's, or a conversion), its
    contract columns there (contract name -> column), how each canonical one becomes text, the file's
    row number (SQL), whether rows wider than the header were flagged (CSV) and the header's width, and
    the encoding a CSV was decoded in with replacements (None if no byte could be replaced)."""

    parquet: Path
    columns: dict[str, str]
    fields: dict[str, Field]
    row: str
    shape_checked: bool = False
    width: int = 0
    lossy: str | None = None


def _view_part(path: Path, staged: _Staged, max_length: int) -> str:
    """The staging view's SELECT for one file: the canonical columns as text, the lineage and the checks
    made as the file is read (transforms/field_text.read_checks). An adapter's output (transforms/adapters)
    carries the source's own lineage (source_file, source_row, raw) and may pre-reject rows (reject_code,
    reject_reason)."""
    columns = staged.columns
    text = {name: field.text(sql_identifier(columns[name])) for name, field in staged.fields.items()}
    selected = ", ".join(
        f"{text[c]} as {c}" if c in text else f"null::varchar as {c}" for c in CANONICAL_COLUMNS
    )

    def given(name: str, default: str, sql_type: str = "varchar") -> str:
        return f"cast({sql_identifier(columns[name])} as {sql_type})" if name in columns else default

    first = None
    if staged.shape_checked:
        too_many = (
            f"the row has more fields than the header's {staged.width} columns "
            "(a value with an unquoted delimiter, or a delimiter at the end of the line)"
        )
        first = (OVERFLOW, "'too_many_fields'", sql_literal(too_many))
    reject_code, reject_reason = read_checks(
        staged.fields,
        {name: sql_identifier(columns[name]) for name in staged.fields},
        lossy=staged.lossy,
        max_length=max_length,
        first=first,
        otherwise=(given("reject_code", "null::varchar"), given("reject_reason", "null::varchar")),
    )
    # Without an adapter's raw text, the quarantine keeps the canonical fields as read (built in
    # sql/staging/stg_checked.sql only for quarantined rows: JSON for every row is slow and large).
    lineage = ", ".join(
        (
            given("source_file", sql_literal(str(path))) + " as source_file",
            given("source_row", staged.row, "bigint") + " as source_row",
            given("raw", "null::varchar") + " as raw",
            f"{reject_code} as reject_code",
            f"{reject_reason} as reject_reason",
        )
    )
    return (
        f"select {selected}, {lineage} "
        f"from read_parquet({sql_literal(str(staged.parquet))}, file_row_number = true)"
    )


def stage_claims(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    workdir: Path,
    *,
    adapted: bool = False,
    source: SourceConfig | None = None,
) -> int:
    """(Re)create the view `stg_raw` over the claims files, as text with lineage; returns the rows read.

    A view, not a copy: validation streams from the files, so a night never holds its input twice (a
    text copy of 100M claims spills tens of GB). Parquet is read where it lies; CSV is converted once to
    a text Parquet under `workdir`, which must outlive validation (with a UTF-8 copy first when it is in
    another encoding). `stg_inputs` lists the user's own Parquet files, which a failed read names
    (`unreadable_input`): a corrupt page shows only when read.

    `adapted`: the files are an adapter's output, whose lineage columns (source_file, source_row, raw,
    reject_code, reject_reason) are honoured; in the user's own files such columns are not read.
    `source`: how files are read ([source]: encoding, time zone, longest field).

    The view's SELECT is made here, from each file's own column names and path: DuckDB takes neither as
    a parameter in a view (names are quoted with `sql_identifier`, paths with `sql_literal`)."""
    source = source or SourceConfig()
    refuse_repeated_files(paths)
    parts, theirs = [], []
    for position, path in enumerate(map(Path, paths)):
        if not path.is_file():
            raise SerosurvError(f"Claims file {path} does not exist.")
        known = (*CANONICAL_COLUMNS, *LINEAGE) if adapted else CANONICAL_COLUMNS
        folder = Path(workdir) / f"input-{position}"
        folder.mkdir(parents=True, exist_ok=True)
        if file_kind(path) == "csv":
            parquet, names, width, how = _csv_to_parquet(path, folder, known, source.encoding)
            columns = {name: name for name in names}
            fields = {name: Field(name) for name in CANONICAL_COLUMNS if name in columns}
            lossy = None if how.strict else how.label
            staged = _Staged(parquet, columns, fields, ROW, True, width, lossy)
        else:
            columns, fields, header = _parquet_fields(con, path, known, source)
            staged = _Staged(path, columns, fields, "file_row_number + 1")
            if any(name.lower() == "file_row_number" for name in header):  # hides DuckDB's row number
                copy = _contract_copy(con, path, folder, columns)
                staged = _Staged(copy, {c: c for c in columns}, fields, staged.row)
            elif not adapted:
                theirs.append((str(path), [columns[c] for c in CANONICAL_COLUMNS if c in columns]))
        parts.append(_view_part(path, staged, source.max_field_length))
    con.execute("create or replace temp view stg_raw as " + " union all ".join(parts))
    table_from_rows(con, "stg_inputs", {"path": pl.String, "columns": pl.List(pl.String)}, theirs)
    try:
        return count_rows(con, "stg_raw")
    except duckdb.Error as exc:
        unreadable_input(con, exc, theirs)
        raise


def staged_inputs(con: duckdb.DuckDBPyConnection) -> list[tuple[str, list[str]]]:
    """The user's Parquet files behind `stg_raw` and their contract columns, for `unreadable_input`: read
    them before a statement that may fail, as a failure aborts the night's transaction."""
    return fetch(con, "analyses/staged_inputs.sql")


def unreadable_input(
    con: duckdb.DuckDBPyConnection, exc: duckdb.Error, inputs: list[tuple[str, list[str]]]
) -> None:
    """After a failed read of `stg_raw`: raise the one-sentence error naming the user's Parquet file that
    cannot be read, if one cannot; else return (the caller re-raises: a file serosurv wrote, or not a
    read error). Reads on a connection of its own: the failure aborted the night's transaction."""
    if isinstance(exc, duckdb.OutOfMemoryException):
        return
    with con.cursor() as probe:
        for path, columns in inputs:
            # Every value of every contract column decoded: a damaged page fails here as it failed there.
            # (Made of the file's own column names: no statement in sql/ can name them.)
            decoded = (
                ", ".join(f"max(length(cast({sql_identifier(c)} as varchar)))" for c in columns) or "count(*)"
            )
            try:
                probe.execute(f"select {decoded} from read_parquet($p)", {"p": path}).fetchall()
            except duckdb.Error as failed:
                raise _unreadable_parquet(path, failed) from None


def stage_patients(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """(Re)create the staging view `stg_patients_raw` over a patient file (Parquet, or CSV as text) and
    return its column names in lower case. (A view cannot take the path as a parameter: it is a literal.)"""
    literal = sql_literal(str(path))
    reader = (
        f"read_parquet({literal})"
        if file_kind(path) == "parquet"
        else f"read_csv({literal}, header = true, all_varchar = true)"
    )
    con.execute(f"create or replace temp view stg_patients_raw as select * from {reader}")
    return [name.lower() for (name,) in fetch(con, "analyses/patient_file_columns.sql")]


def load_patients(con: duckdb.DuckDBPyConnection, path: Path, run_id: str) -> int:
    """The optional patient table (demographics and coverage); each run that provides one replaces it."""
    path = Path(path)
    if not path.is_file():
        raise SerosurvError(f"Patients file {path} does not exist.")
    columns = stage_patients(con, path)
    if "patient_id" not in columns:
        raise SerosurvError(f"{path}: required column 'patient_id' is missing ({header_note(columns)}).")
    replace_rows(con, "patients", "staging/stg_patients.sql", {"run_id": run_id})
    drop_views(con, "stg_patients_raw")
    return count_rows(con, "patients")
