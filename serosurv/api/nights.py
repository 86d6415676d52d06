"""Nights: generate synthetic claims, run a night (or a back-fill), the demo, the schedule."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from serosurv.core.config import busy_wait, load_config, warehouse_path
from serosurv.core.errors import SerosurvError
from serosurv.core.lock import warehouse_lock
from serosurv.core.permissions import owner_only
from serosurv.core.rules import load_rules


@dataclass(frozen=True)
class Generated:
    """The files `generate` wrote."""

    claims: Path
    patients: Path
    truth: Path


@dataclass
class NightResult:
    """One night (or back-fill) run: its id and date, the counts of every step, the files written."""

    run_id: str
    as_of: str
    counts: dict[str, int]
    reports: dict[str, Path]
    timings: dict[str, float] = field(default_factory=dict)
    warehouse: Path | None = None
    dashboard: Path | None = None


# How long a night waits for Prefect's temporary API server to start (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS
# overrides it).
PREFECT_STARTUP_SECONDS = 120


def quiet_environment() -> None:
    """No telemetry and no server: Prefect runs flows locally with a temporary API in this process."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # Prefect gives its temporary API server 20 s to start, which a loaded machine can exceed (measured here
    # on 2 busy cores); waiting longer costs nothing when it starts sooner.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", str(PREFECT_STARTUP_SECONDS))


@owner_only()
def generate(
    out_dir: Path | str,
    patients: int = 20_000,
    seed: int = 42,
    start: date | None = None,
    end: date | None = None,
    workload: str = "general",
) -> Generated:
    """Write a synthetic population (claims.parquet, patients.parquet, truth.parquet: the planted
    interactions with their expected answers) to `out_dir`. The same seed gives the same files.

    `workload` is `general` (a general health plan: about 1 fill in 6 is a serotonergic rule drug) or
    `serotonergic` (a behavioural-health plan: about half of the fills are); the planted patients and
    truth.parquet are the same in both."""
    from transforms import synthetic

    if patients < 1:
        raise SerosurvError("--patients must be at least 1.")
    if start and end and end < start:
        raise SerosurvError("--end must not be before --start.")
    dates = {k: v for k, v in (("start", start), ("end", end)) if v}
    written = synthetic.generate(Path(out_dir), patients, seed=seed, workload=workload, **dates)
    return Generated(claims=written["claims"], patients=written["patients"], truth=written["truth"])


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
) -> NightResult:
    """Run one night through the Prefect flow: claims in, warehouse tables and the audit report out
    (under `out_dir/<night>/`).

    `fmt` names the input layout (canonical, omop, scdm, pde, mimic-iv, fhir, mapping:FILE); other layouts are
    mapped onto the canonical contract inside the flow's ingest step, keeping the source lineage. With
    `backfill_from`, the worklist is also built for every night from that date up to the run date, in
    order, each from the claims dated up to that night. The warehouse is `warehouse`, else the one
    default of every command (serosurv.core.config.warehouse_path)."""
    from transforms.adapters import check_format, check_inputs
    from transforms.ingest import check_claims_files
    from transforms.pseudonymise import check_key

    check_format(fmt)
    config = load_config(config_file)
    if fmt == "canonical":  # a bad file is refused in a second, before Prefect starts
        check_claims_files([Path(p) for p in claims], config.source)
    missing = [str(p) for p in claims if not Path(p).exists()]
    if missing:
        raise SerosurvError(f"Claims file {missing[0]} does not exist.")
    if patients is not None and not Path(patients).is_file():
        raise SerosurvError(f"Patients file {patients} does not exist.")
    if fmt != "canonical":  # a bad header too: the tables each input names, from their headers
        check_inputs(fmt, claims, patients)
    if backfill_from and as_of and backfill_from > as_of:
        raise SerosurvError("--from must not be after --as-of.")
    # A broken rule folder too (30 ms; the night reads it again).
    rules_dir = Path(config.rules.directory) if config.rules.directory else None
    load_rules(
        rules_dir, include_related=config.rules.include_related, jurisdiction=config.rules.jurisdiction
    )
    quiet_environment()
    check_key(config.privacy)  # a missing key stops the night before Prefect starts
    from flows.prefect_api import prefect_api

    target = warehouse_path(warehouse, config)
    # Taken here too (re-entrant in the flow) so a busy warehouse is waited for before Prefect starts.
    with warehouse_lock(target, "run", busy_wait(config)), prefect_api() as api_ready:
        # A temporary server (when no Prefect server is configured) starts now, while the flows are imported.
        from flows.nightly import configured, import_gate_in_background

        nightly = configured(config.engine)
        import_gate_in_background()
        api_ready()
        result = nightly(
            claims=[str(Path(p).resolve()) for p in claims],
            warehouse=str(target),
            out_dir=str(out_dir),
            as_of=as_of.isoformat() if as_of else None,
            config_file=str(config_file) if config_file else None,
            patients=str(Path(patients).resolve()) if patients else None,
            fmt=fmt,
            backfill_from=backfill_from.isoformat() if backfill_from else None,
        )
    return _night_result(result, target)


def _night_result(result: dict[str, Any], warehouse: Path | None) -> NightResult:
    return NightResult(
        run_id=result["run_id"],
        as_of=result["as_of"],
        counts=result["counts"],
        reports=result["reports"],
        timings=result.get("timings", {}),
        warehouse=warehouse,
    )


@owner_only()
def serve(
    config_file: Path | str | None = None,
    *,
    dry_run: bool = False,
    once: bool = False,
    as_of: date | None = None,
) -> str | NightResult | None:
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
    if once:
        from flows.prefect_api import prefect_api

        with prefect_api() as api_ready:  # a temporary server starts now, while the flows are imported
            from flows import serve as serving

            result = serving.run_once(config_file, as_of, before_night=api_ready)
        return _night_result(result, Path(serving.warehouse_for(str(config_file) if config_file else None)))
    from flows import serve as serving

    if dry_run:
        return serving.describe(*serving.schedule_settings(config_file))
    serving.serve_nightly(config_file)
    return None


@owner_only()
def demo(
    out_dir: Path | str = "demo-out",
    patients: int = 20_000,
    seed: int = 42,
    warehouse: Path | str | None = None,
) -> NightResult:
    """Generate a synthetic population and run the night on it, then the quality dashboard of its year.

    The demo never touches the warehouse your nights use: it writes a fresh one, `out_dir/serosurv.duckdb`
    (or `warehouse`), replacing the previous demo's."""
    from serosurv.api.reports import dashboard

    out_dir = Path(out_dir)
    target = Path(warehouse) if warehouse else out_dir / "serosurv.duckdb"
    for stale in (target, target.with_name(target.name + ".wal")):
        stale.unlink(missing_ok=True)
    data = generate(out_dir / "data", patients=patients, seed=seed)
    as_of = _generated_end(data)
    result = run([data.claims], patients=data.patients, out_dir=out_dir, as_of=as_of, warehouse=target)
    first = date(as_of.year, 1, 1)
    result.dashboard = dashboard(first, as_of, out_dir / "dashboard.html", warehouse=target)
    return result


def _generated_end(data: Generated) -> date:
    import duckdb

    from transforms.sql import fetch_value

    # The night of the demo is the last day of the generated history (ignoring planted future dates).
    con = duckdb.connect()
    try:
        return fetch_value(con, "analyses/generated_history_end.sql", {"p": str(data.patients)})
    finally:
        con.close()
