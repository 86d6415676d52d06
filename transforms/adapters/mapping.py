"""`--format mapping:FILE`: any CSV/Parquet described by a TOML column mapping -> canonical claims.

```toml
[columns]                  # canonical field = source column (case-insensitive)
claim_id = "RX_CLAIM_NBR"  # optional: without it a claim id is derived from the row's fields
patient_id = "MEMBER_ID"
fill_date = "DATE_FILLED"
days_supply = "DAYS_SUPPLY"  # or end_date = "STOP_DATE" (one of the two is required, or ongoing)
prescriber_id = "PRESCRIBER_NPI"

[drug]                     # the drug column and what its codes are
column = "PRODUCT_ID"
code_type = "ndc"          # ndc | rxcui | drug_name
name_column = "DRUG_DESC"  # optional: the drug name beside a code; a claim whose code maps nothing uses it

[date_formats]             # strptime formats per date field (ISO is always accepted)
fill_date = "%d.%m.%Y"

[constants]                # fixed values for fields the file lacks
pharmacy_id = "MAIL-ORDER-1"
ongoing = "true"           # orders: an empty end_date (and days_supply) means the order runs until
                           # stopped, counted to the night (at most [episodes] ongoing_max_days days);
                           # or ongoing = "ACTIVE_FLAG" in [columns], recoded with [values.ongoing]

[values.claim_status]      # recode a field's values (others pass through and are validated)
B1 = "paid"
B2 = "reversed"

[source]
delimiter = ";"            # CSV only; default "," (tab for .tsv)
```
Every key is checked: an unknown section, field or code type is a one-sentence error naming the file. A code
column and a name column may both be given (`[drug] column` and `name_column`, or `ndc` / `rxcui` and
`drug_name` in `[columns]`): a claim is mapped by its code, and by its name when the code maps nothing.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import duckdb

from serosurv.core.errors import SerosurvError, header_note
from serosurv.core.warehouse import CANONICAL_COLUMNS
from transforms.adapters import Adapted, Adapter
from transforms.adapters._source import ROW, Header, Source, literal, output_name, write_claims

SECTIONS = ("columns", "drug", "date_formats", "constants", "values", "source")
CODE_TYPES = ("ndc", "rxcui", "drug_name")
DATE_FIELDS = ("fill_date", "end_date")
ID_FIELDS = ("claim_id", "patient_id", "prescriber_id", "pharmacy_id", "rx_reference", "original_claim_id")


def mapping_adapter(mapping_file: Path) -> Adapter:
    spec = load_mapping(mapping_file)

    def adapt_mapping(
        con: duckdb.DuckDBPyConnection,
        claims: list[Path],
        patients: Path | None,
        workdir: Path,
        unknown_ids: tuple[str, ...],
    ) -> Adapted:
        given = set(spec.get("columns", {})) | set(spec.get("constants", {}))
        # A field the mapping names no column or constant for is one the source does not carry.
        absent = tuple(f for f in ("prescriber_id", "pharmacy_id") if f not in given)
        outputs = [_adapt(con, path, workdir, spec, mapping_file, unknown_ids) for path in claims]
        return Adapted(outputs, None, absent)

    return adapt_mapping


def load_mapping(path: Path) -> dict:
    if not path.is_file():
        raise SerosurvError(
            f"Mapping file {path} does not exist (use --format mapping:FILE with a TOML file)."
        )
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SerosurvError(f"{path}: not valid TOML ({exc}).") from None

    def fail(problem: str) -> SerosurvError:
        return SerosurvError(f"{path}: {problem}.")

    for section, value in spec.items():
        if section not in SECTIONS or not isinstance(value, dict):
            raise fail(f"unknown section [{section}]; use {', '.join(f'[{s}]' for s in SECTIONS)}")
    columns = dict(spec.get("columns", {}))
    for table in ("columns", "date_formats", "constants", "values"):
        for field, value in spec.get(table, {}).items():
            if field not in CANONICAL_COLUMNS:
                raise fail(f"[{table}] {field} is not a canonical field ({', '.join(CANONICAL_COLUMNS)})")
            if table == "values":
                if not isinstance(value, dict):
                    raise fail(f"[values.{field}] must be a table of source value = canonical value")
            elif not isinstance(value, str):
                raise fail(f"[{table}] {field} must be a string")
    for field in spec.get("date_formats", {}):
        if field not in DATE_FIELDS:
            raise fail(f"[date_formats] {field} is not a date field ({', '.join(DATE_FIELDS)})")
    drug = spec.get("drug", {})
    if drug:
        if set(drug) - {"column", "code_type", "name_column"} or not isinstance(drug.get("column"), str):
            raise fail(
                '[drug] needs column = "SOURCE COLUMN" and code_type = "ndc", "rxcui" or "drug_name" (and '
                'optionally name_column = "SOURCE COLUMN" for the drug name beside a code)'
            )
        code_type = drug.get("code_type", "drug_name")
        if code_type not in CODE_TYPES:
            raise fail(f"[drug] code_type '{code_type}' is not one of {', '.join(CODE_TYPES)}")
        columns[code_type] = drug["column"]
        if "name_column" in drug:
            if code_type == "drug_name" or not isinstance(drug["name_column"], str):
                raise fail('[drug] name_column = "SOURCE COLUMN" names the drug name beside a code column')
            columns["drug_name"] = drug["name_column"]
    given = set(columns) | set(spec.get("constants", {}))
    for field in ("patient_id", "fill_date"):
        if field not in given:
            raise fail(f"[columns] must name the source column for {field}")
    if not given & {"days_supply", "end_date", "ongoing"}:
        raise fail(
            "[columns] must name a days_supply or an end_date column (or ongoing, for open-ended orders)"
        )
    if not given & {"ndc", "rxcui", "drug_name"}:
        raise fail(
            "needs a drug column: [drug] column and code_type, or ndc / rxcui / drug_name in [columns]"
        )
    delimiter = spec.get("source", {}).get("delimiter")
    if set(spec.get("source", {})) - {"delimiter"} or (delimiter is not None and len(str(delimiter)) != 1):
        raise fail('[source] takes only delimiter = "one character"')
    return {**spec, "columns": columns}


def mapping_check(mapping_file: Path) -> Callable[[list[Path], Path | None], None]:
    """The check of transforms.adapters.check_inputs for this mapping: the mapping is valid (when made)
    and each claims file has the columns it maps, from the file's header."""
    spec = load_mapping(mapping_file)

    def check_mapping(claims: list[Path], patients: Path | None) -> None:
        del patients  # a mapping reads claims only
        for path in claims:
            header = Header(path, f"mapping {mapping_file.name}", spec.get("source", {}).get("delimiter"))
            _require_mapped(header, spec, mapping_file)

    return check_mapping


def _require_mapped(table: Header, spec: dict, mapping_file: Path) -> None:
    for field, column in spec["columns"].items():
        if not table.has(column):
            raise SerosurvError(
                f"{table.path}: column '{column}' (mapped to {field} by {mapping_file}) is missing "
                f"({header_note(table.original)})."
            )


def _adapt(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    workdir: Path,
    spec: dict,
    mapping_file: Path,
    unknown_ids: tuple[str, ...],
) -> Path:
    """The mapping is the user's: its SQL (the view `adapted_claims`, read by sql/staging/
    stg_adapted_claims.sql) is made here from the mapping file, its values as escaped literals. Ids are
    read by the macros source_id and known_id (sql/macros/) after any recoding; a derived claim id is
    made from the values as written, so it does not change."""
    s = Source(con, path, workdir, f"mapping {mapping_file.name}", spec.get("source", {}).get("delimiter"))
    _require_mapped(s, spec, mapping_file)
    columns: dict[str, str] = spec["columns"]
    fields = {field: s.col(column) for field, column in columns.items()}
    for field, value in spec.get("constants", {}).items():
        fields.setdefault(field, literal(value))
    for field, recode in spec.get("values", {}).items():
        if field in fields:
            cases = " ".join(f"when {literal(str(k))} then {literal(str(v))}" for k, v in recode.items())
            fields[field] = f"case {fields[field]} {cases} else {fields[field]} end"
    for field in DATE_FIELDS:
        if field in fields:
            date_format = literal(spec.get("date_formats", {}).get(field, "%Y-%m-%d"))
            fields[field] = f"iso_date({fields[field]}, [{date_format}])"  # sql/macros/iso_date.sql
    if "claim_id" not in fields:
        keys = (
            "patient_id",
            "fill_date",
            "ndc",
            "rxcui",
            "drug_name",
            "days_supply",
            "end_date",
            "prescriber_id",
            "pharmacy_id",
            "claim_status",
            "rx_reference",
            "fill_number",
        )
        key = "concat_ws('|', " + ", ".join(f"coalesce({fields[k]}, '')" for k in keys if k in fields) + ")"
        fields["claim_id"] = f"derived_claim_id('map-', {key}, {ROW})"  # sql/macros/derived_claim_id.sql
    unknown = "cast([" + ", ".join(literal(u) for u in unknown_ids) + "] as varchar[])"
    for field in ID_FIELDS:
        if field in fields:
            fields[field] = f"source_id({fields[field]})"
    for field in ("prescriber_id", "pharmacy_id"):
        if field in fields:
            fields[field] = f"known_id({fields[field]}, {unknown})"
    select = ", ".join(f"{fields.get(c, 'null')} as {c}" for c in CANONICAL_COLUMNS)
    con.execute(
        f"create or replace temp view adapted_claims as select {select}, {ROW}, {s.raw()} as raw, "
        f"null as reject_code, null as reject_reason from {s.view} as s"
    )
    return write_claims(con, s, None, output_name(workdir, "mapping", path))
