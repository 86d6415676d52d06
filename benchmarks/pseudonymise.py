"""The cost of keyed pseudonymisation at ingest (transforms/pseudonymise.py, docs/privacy.md).

    .venv/bin/python -m benchmarks.pseudonymise [--patients 80000] [--claims FILE] [--sql]

Stages the claims as a night does (generated ones by default: 80,000 patients is about 1M claims), then
times `pseudonymise.apply` (patient, prescriber and pharmacy ids of every staged row) and, with --sql,
the same HMAC written in DuckDB SQL (sha256 over the key's pads), the alternative it was chosen over.
Prints the best of --repeat runs as seconds and rows per second.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from serosurv.core.config import PrivacyConfig
from serosurv.core.warehouse import connect
from transforms import ingest, pseudonymise

KEY = "benchmark-key-0123456789abcdef"


def _sql_hmac(con, key: bytes) -> None:
    """HMAC-SHA256 in SQL: sha256(outer pad || sha256(inner pad || id)), pads bound as parameters."""
    key = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest().ljust(64, b"\0")
    pads = {"i": bytes(b ^ 0x36 for b in key), "o": bytes(b ^ 0x5C for b in key)}
    parts = []
    for column, prefix in pseudonymise.PREFIXES.items():
        text = f"nullif(trim({column}), '')"
        digest = f"left(sha256($o || unhex(sha256($i || encode({text})))), {pseudonymise.HEX_DIGITS})"
        parts.append(f"CASE WHEN {text} IS NULL THEN {column} ELSE '{prefix}' || {digest} END AS {column}")
    # Written to Parquet as pseudonymise.apply writes its copy, so the two are timed alike.
    target = Path(tempfile.gettempdir()) / f"serosurv-bench-sql-hmac-{os.getpid()}.parquet"
    try:
        con.execute(
            f"COPY (SELECT * REPLACE ({', '.join(parts)}) FROM stg_raw) TO '{target}' (FORMAT parquet)", pads
        )
    finally:
        target.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=80_000, help="generated patients (default 80000)")
    parser.add_argument("--claims", type=Path, help="a claims file to use instead of generated claims")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sql", action="store_true", help="also time HMAC written in DuckDB SQL")
    args = parser.parse_args()
    os.environ["SEROSURV_PSEUDONYM_KEY"] = KEY
    settings = PrivacyConfig(pseudonymise=True)
    with tempfile.TemporaryDirectory(prefix="serosurv-bench-") as tmp:
        claims = args.claims
        if claims is None:
            from transforms.synthetic import generate

            claims = generate(Path(tmp) / "data", args.patients, seed=3)["claims"]
        con = connect(Path(tmp) / "w.duckdb")
        results = {}
        for label, step in (("python hmac over arrow batches", None), ("sql hmac", _sql_hmac)):
            if step is not None and not args.sql:
                continue
            best = float("inf")
            for _ in range(args.repeat):
                rows = ingest.stage_claims(con, [Path(claims)], Path(tmp) / "staged")
                started = time.perf_counter()
                if step is None:
                    pseudonymise.apply(con, settings, None, Path(tmp))
                else:
                    step(con, KEY.encode())
                best = min(best, time.perf_counter() - started)
            results[label] = best
            print(f"{label}: {rows:,} rows in {best:.2f} s = {rows / best:,.0f} rows/s (3 ids per row)")
        staged = time.perf_counter()
        ingest.stage_claims(con, [Path(claims)], Path(tmp) / "staged")
        print(f"for scale: staging the same claims took {time.perf_counter() - staged:.2f} s")
        con.close()


if __name__ == "__main__":
    main()
