"""Keyed pseudonymisation of patient, prescriber and pharmacy ids at ingest (docs/privacy.md).

With `[privacy] pseudonymise = true`, the night's staged claims (`stg_raw`, after any adapter) and its
patient table have every id replaced by `PREFIX + HMAC-SHA256(key, id)` in hex, cut to `HEX_DIGITS`,
before validation stores, logs or reports anything: `pt_` patients, `pr_` prescribers, `ph_` pharmacies.
The id is trimmed first (as validation trims it); empty ids stay empty, so missing stays missing.
The key comes from the environment variable `[privacy] key_env` and is never written anywhere.

Why a Python UDF over Arrow batches: DuckDB has sha256 but no HMAC. HMAC written in SQL
(sha256(opad || unhex(sha256(ipad || id)))) hashes every row twice and runs at ~360,000 rows/s on two
cores; hashing each distinct id of a batch of rows once with Python's `hmac` (Arrow dictionary-encodes
the batch) runs at ~800,000 rows/s, three ids per row (`python -m benchmarks.pseudonymise --sql`).

The source's own row copy (`raw`, which adapters keep as JSON) is dropped, so a quarantined row keeps
its canonical fields (with pseudonyms) instead: a source row can carry identifiers serosurv does not map
(names, birth dates, encounter numbers), and no pseudonymisation of known columns could catch those.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from serosurv.core.config import PrivacyConfig
from serosurv.core.errors import SerosurvError
from serosurv.core.warehouse import count_rows
from transforms.ingest import stage_patients, staged_inputs, unreadable_input
from transforms.runs import latest_success
from transforms.sql import copy_to, create_macros, drop_views, sql_literal

PREFIXES = {"patient_id": "pt_", "prescriber_id": "pr_", "pharmacy_id": "ph_"}
HEX_DIGITS = 20  # 80 bits: a collision among 100 million ids has a chance of about 1 in 250 million
MIN_KEY_LENGTH = 16
# The UDFs' names, as sql/staging/stg_pseudonymised_*.sql call them.
_FUNCTIONS = {column: f"serosurv_pseudonym_{column}" for column in PREFIXES}


def key_from_environment(settings: PrivacyConfig) -> bytes:
    """The key (UTF-8 bytes of the variable `settings.key_env`); a one-sentence error naming the variable
    (never its value) when it is unset or too short."""
    value = os.environ.get(settings.key_env, "")
    if not value:
        raise SerosurvError(
            f"[privacy] pseudonymise is on but the environment variable {settings.key_env} holding the key "
            "is not set; set it (e.g. to the output of `openssl rand -hex 32`) or turn pseudonymise off."
        )
    if len(value) < MIN_KEY_LENGTH:
        raise SerosurvError(
            f"The pseudonymisation key in {settings.key_env} is shorter than {MIN_KEY_LENGTH} characters; "
            "use a long random key, e.g. the output of `openssl rand -hex 32`."
        )
    return value.encode("utf-8", "surrogateescape")  # the variable's bytes as the environment has them


def check_key(settings: PrivacyConfig) -> None:
    """Fail early (before a night starts) when pseudonymisation is on and the key is unusable."""
    if settings.pseudonymise:
        key_from_environment(settings)


def pseudonymiser(key: bytes, column: str) -> Callable[[str], str]:
    """id -> pseudonym for one kind of id; an empty or blank id is returned as it is."""
    prefix, keyed = PREFIXES[column], hmac.new(key, digestmod=hashlib.sha256)

    @functools.lru_cache(maxsize=65_536)
    def pseudonym(value: str) -> str:
        text = value.strip()
        if not text:
            return value
        digest = keyed.copy()
        digest.update(text.encode("utf-8"))
        return prefix + digest.hexdigest()[:HEX_DIGITS]

    return pseudonym


def _batch_function(key: bytes, column: str) -> Callable[[pa.Array], pa.Array]:
    """The DuckDB UDF: each distinct id of an Arrow batch is hashed once, then spread back by index."""
    pseudonym = pseudonymiser(key, column)

    def pseudonymise_batch(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
        encoded = pc.dictionary_encode(ids)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        distinct = [pseudonym(value) for value in encoded.dictionary.to_pylist()]
        return pc.take(pa.array(distinct, pa.string()), encoded.indices)

    return pseudonymise_batch


@contextmanager
def _functions(con: duckdb.DuckDBPyConnection, key: bytes) -> Iterator[dict[str, str]]:
    """The three UDFs registered on `con` for the block, then removed (with the key they hold)."""
    from duckdb.sqltypes import VARCHAR

    registered = []
    try:
        for column, name in _FUNCTIONS.items():
            con.create_function(
                name,
                _batch_function(key, column),
                [VARCHAR],
                VARCHAR,
                type="arrow",
                null_handling="special",
                side_effects=False,
            )
            registered.append(name)
        yield _FUNCTIONS
    finally:
        for name in registered:
            con.remove_function(name)


def check_warehouse(con: duckdb.DuckDBPyConnection, settings: PrivacyConfig) -> None:
    """Refuse to mix real ids and pseudonyms in one warehouse: every patient would be split in two."""
    latest = latest_success(con)
    if latest is None or not count_rows(con, "claims"):
        return
    try:
        earlier = bool(json.loads(latest["parameters"] or "{}").get("privacy", {}).get("pseudonymise", False))
    except (ValueError, AttributeError):
        return
    if earlier != settings.pseudonymise:
        had, wanted = ("pseudonyms", "real ids") if earlier else ("real ids", "pseudonyms")
        raise SerosurvError(
            f"This warehouse holds {had} from earlier nights, so a night with {wanted} would split every "
            f"patient in two; use a new warehouse (--warehouse) or set [privacy] pseudonymise = "
            f"{str(earlier).lower()} again."
        )


def apply(
    con: duckdb.DuckDBPyConnection,
    settings: PrivacyConfig,
    patients: Path | None,
    workdir: Path,
    unknown_ids: tuple[str, ...] = (),
) -> Path | None:
    """The ingest hook: point the staging view `stg_raw` at a pseudonymised copy of the claims and return
    the patient file to load (copies written under `workdir`, which must outlive validation; `patients`
    itself when pseudonymisation is off). A prescriber or pharmacy id meaning unknown (empty, zero or one
    of `unknown_ids`: sql/macros/known_id.sql) stays empty rather than becoming a pseudonym, which
    validation could no longer tell from a real one.
    """
    check_warehouse(con, settings)
    if not settings.pseudonymise:
        return patients
    key = key_from_environment(settings)
    with _functions(con, key):
        # Written once as Parquet (not a view: the functions holding the key go when this block ends).
        target = Path(workdir) / "pseudonymised-claims.parquet"
        inputs = staged_inputs(con)
        create_macros(con, "source_id", "known_id")
        try:
            copy_to(con, "staging/stg_pseudonymised_claims.sql", target, {"unknown_ids": list(unknown_ids)})
        except duckdb.Error as exc:
            unreadable_input(con, exc, inputs)
            raise
        # A view cannot take the path as a parameter: it is a literal.
        con.execute(
            f"create or replace temp view stg_raw as select * from read_parquet({sql_literal(str(target))})"
        )
        if patients is not None:
            patients = _patients_copy(con, Path(patients), Path(workdir))
    return patients


def _patients_copy(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path) -> Path:
    """The patient table with pseudonymised ids, as Parquet under `workdir` (the loader reads it as is)."""
    if not path.is_file():
        return path  # the loader says so in its own words
    if "patient_id" not in stage_patients(con, path):
        return path  # the loader names the missing column
    target = workdir / "pseudonymised-patients.parquet"
    copy_to(con, "staging/stg_pseudonymised_patients.sql", target)
    drop_views(con, "stg_patients_raw")
    return target
