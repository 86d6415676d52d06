"""The Python API: one function per operation, the same names and options as the CLI."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

from serosurv.errors import SerosurvError
from serosurv.lock import warehouse_lock
from serosurv.permissions import owner_only


def quiet_environment() -> None:
    """No telemetry and no server: Prefect runs flows locally with a temporary API in this process."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


@owner_only()
def generate(out_dir: Path | str, patients: int = 20_000, seed: int = 42,
             start: date | None = None, end: date | None = None) -> dict[str, Any]:  # fmt: skip
    """Write a synthetic population (claims, patients, planted truth) to out_dir."""
    from serosurv import generate as generator

    if patients < 1:
        raise SerosurvError("--patients must be at least 1.")
    kwargs: dict[str, Any] = {"seed": seed}
    if start:
        kwargs["start"] = start
    if end:
        kwargs["end"] = end
    if start and end and end < start:
        raise SerosurvError("--end must not be before --start.")
    return generator.generate(Path(out_dir), patients, **kwargs)


@owner_only()
def run(
    claims: list[Path | str],
    *,
    patients: Path | str | None = None,
    fmt: str = "canonical",
    config_file: Path | str | None = None,
    warehouse: Path | str | None = None,
    as_of: date | None = None,
    out_dir: Path | str = "out",
    backfill_from: date | None = None,
) -> dict[str, Any]:
    """Run one night through the Prefect flow; returns the run id, counts and report paths.

    With `backfill_from`, the alert worklist is also built for every night from that date up to the
    run date, in order, each from the claims dated up to that night.

    `fmt` names the input layout (canonical, omop, scdm, pde, mimic-iv, mapping:FILE); other layouts
    are mapped onto the canonical contract inside the flow's ingest step, keeping the source lineage."""
    from transforms.adapters import check_format
    from transforms.pseudonymise import check_key

    check_format(fmt)
    missing = [str(p) for p in claims if not Path(p).exists()]
    if missing:
        raise SerosurvError(f"Claims file {missing[0]} does not exist.")
    if patients is not None and not Path(patients).is_file():
        raise SerosurvError(f"Patients file {patients} does not exist.")
    if backfill_from and as_of and backfill_from > as_of:
        raise SerosurvError("--from must not be after --as-of.")
    quiet_environment()
    from flows.nightly import configured, import_gate_in_background
    from serosurv.config import load_config

    config = load_config(config_file)
    check_key(config.privacy)  # a missing key stops the night before Prefect starts
    nightly = configured(config.engine)

    out_dir = Path(out_dir)
    warehouse = Path(warehouse) if warehouse else out_dir / "serosurv.duckdb"
    # Taken here too (re-entrant in the flow) so a busy warehouse is refused before Prefect starts.
    with warehouse_lock(warehouse, "run"):
        import_gate_in_background()
        return nightly(
            claims=[str(Path(p).resolve()) for p in claims],
            warehouse=str(warehouse),
            out_dir=str(out_dir),
            as_of=as_of.isoformat() if as_of else None,
            config_file=str(config_file) if config_file else None,
            patients=str(Path(patients).resolve()) if patients else None,
            fmt=fmt,
            backfill_from=backfill_from.isoformat() if backfill_from else None,
        )


@owner_only()
def serve(
    config_file: Path | str | None = None,
    *,
    dry_run: bool = False,
    once: bool = False,
    as_of: date | None = None,
) -> str | dict[str, Any] | None:
    """Register the nightly run (the `[schedule]` settings of the configuration) with the Prefect server
    at PREFECT_API_URL and run each night as it comes due, until stopped; see docs/operations.md.

    `dry_run` returns what would be registered, as text, without contacting a server. `once` runs one
    night now exactly as the schedule would (files from the patterns, retries) and returns its result,
    like `run`: the night `as_of`, else the one the current time names. Neither needs a server."""
    if as_of and not once:
        raise SerosurvError(
            "--as-of goes with --once; the schedule takes each night's date from its start time."
        )
    if not (dry_run or once):
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")  # served nights log to the server's UI
    quiet_environment()
    from flows import serve as serving

    if dry_run:
        return serving.describe(*serving.schedule_settings(config_file))
    if once:
        return serving.run_once(config_file, as_of)
    serving.serve_nightly(config_file)
    return None


@owner_only()
def dashboard(
    warehouse: Path | str, date_from: date, date_to: date, out: Path | str = "dashboard.html"
) -> Path:
    """The quality dashboard (self-contained HTML, no patient identifiers, small cells suppressed)."""
    from serosurv import report_cli

    return report_cli.dashboard(warehouse, date_from, date_to, out)


@owner_only()
def prevalence(warehouse: Path | str, out: Path | str, **options: Any) -> dict[str, Path]:
    """Combination prevalence for researchers (see docs/prevalence.md); options as `serosurv prevalence`."""
    from serosurv import report_cli

    return report_cli.prevalence(warehouse, out, **options)


@owner_only()
def demo(out_dir: Path | str = "demo-out", patients: int = 20_000, seed: int = 42) -> dict[str, Any]:
    """Generate a synthetic population and run the night on it; returns the run result."""
    out_dir = Path(out_dir)
    data = generate(out_dir / "data", patients=patients, seed=seed)
    as_of = _generated_end(data)
    result = run([data["claims"]], patients=data["patients"], out_dir=out_dir, as_of=as_of)
    first = date(as_of.year, 1, 1)
    result["dashboard"] = dashboard(out_dir / "serosurv.duckdb", first, as_of, out_dir / "dashboard.html")
    return result


def _generated_end(data: dict[str, Any]) -> date:
    import duckdb

    # The night of the demo is the last day of the generated history (ignoring planted future dates).
    (end,) = duckdb.execute(
        "SELECT max(coverage_end) FROM read_parquet($p)", {"p": str(data["patients"])}
    ).fetchall()[0]
    return end
