"""The nightly run, top to bottom: ingest, validate, gate, normalise, episodes, interactions, alerts, report.

The whole night is one warehouse transaction: it commits everything or nothing, and report files are
written under temporary names and moved into place only after the commit. Tasks receive the open
night (connection, run id, settings), never large data frames: the data stays in DuckDB.
"""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from reports.audit import write_failed_night, write_night_reports
from serosurv.core.config import Config, EngineConfig, busy_wait, load_config
from serosurv.core.errors import GateFailed, SerosurvError
from serosurv.core.lock import warehouse_lock
from serosurv.core.permissions import owner_only
from serosurv.core.rules import RuleSet, load_rules
from serosurv.core.warehouse import connect, transaction
from transforms import (
    adapters,
    alerts,
    buckets,
    catalog,
    engine,
    incremental,
    ingest,
    normalise,
    pseudonymise,
    quality,
    runs,
    validate,
)
from transforms.sql import drop_tables, drop_views

log = logging.getLogger("serosurv")


@dataclass
class Night:
    con: duckdb.DuckDBPyConnection
    run_id: str
    as_of: date
    config: Config
    ruleset: RuleSet
    out_dir: Path
    inputs: list[str]
    workdir: Path  # converted, adapted and pseudonymised inputs, from ingest until validation is done
    started_at: datetime = field(default_factory=datetime.now)
    counts: dict[str, int] = field(default_factory=dict)
    gate: quality.GateResult | None = None
    last_step: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    fingerprint: str = ""
    recompute: str = "full"
    absent: tuple[str, ...] = ()  # canonical fields the source does not carry (prescriber_id, pharmacy_id)
    validated: bool = False  # the rows were split into claims and quarantine


def _step(night: Night, stage: str, message: str) -> None:
    """Progress for the operator, with the seconds since the previous step (no identifiers)."""
    now = time.perf_counter()
    log.info("%s: %s (%.1f s)", night.as_of, message, now - night.last_step)
    night.timings[stage] = round(night.timings.get(stage, 0.0) + now - night.last_step, 3)
    night.last_step = now


@task(name="ingest", cache_policy=NO_CACHE)
def ingest_claims(night: Night, claims: list[str], patients: str | None, fmt: str) -> None:
    incremental.remember_forgotten(night.con, night.as_of)
    validate.forget_night(night.con, night.as_of)
    files, patients_file = [Path(p) for p in claims], Path(patients) if patients else None
    night.absent = tuple(night.config.source.absent_fields)
    unknown_ids = night.config.source.unknown_ids
    adapted = None
    if fmt != "canonical":
        adapted = adapters.adapt(fmt, files, patients_file, night.workdir / "adapted", unknown_ids)
        files, patients_file = adapted.claims, adapted.patients or patients_file
        night.absent = tuple(sorted({*night.absent, *adapted.absent}))
        _step(night, "adapt", f"mapped {fmt} input onto the canonical contract")
    night.counts["rows_read"] = ingest.stage_claims(
        night.con, files, night.workdir / "staged", adapted=fmt != "canonical", source=night.config.source
    )
    if adapted is not None:
        night.counts.update(adapted.counts)  # what the adapter changed (e.g. OMOP end dates corrected)
    patients_file = pseudonymise.apply(
        night.con, night.config.privacy, patients_file, night.workdir, unknown_ids
    )
    if patients_file:
        night.counts["patients"] = ingest.load_patients(night.con, patients_file, night.run_id)
    _step(night, "ingest", f"read {night.counts['rows_read']:,} rows from {len(claims)} input(s)")


@task(name="validate", cache_policy=NO_CACHE)
def check_rows(night: Night) -> None:
    counts = validate.check_claims(
        night.con,
        night.run_id,
        night.as_of,
        night.config.validation.earliest_fill_date,
        night.config.source.unknown_ids,
        max_field_length=night.config.source.max_field_length,
    )
    night.validated = True
    drop_views(night.con, "stg_raw")
    drop_tables(night.con, "stg_inputs")
    shutil.rmtree(night.workdir, ignore_errors=True)  # converted inputs: the engine may want the disk
    night.counts.update(
        rows_accepted=counts.rows_accepted,
        rows_quarantined=counts.rows_quarantined,
        **{f"quarantined_{code}": n for code, n in counts.reasons.items()},
    )
    _step(
        night, "validate", f"accepted {counts.rows_accepted:,} rows, quarantined {counts.rows_quarantined:,}"
    )


@task(name="quality-gate", cache_policy=NO_CACHE)
def quality_gate(night: Night) -> None:
    night.gate = quality.run_gate(
        night.con,
        night.run_id,
        night.as_of,
        night.config.validation,
        rows_read=night.counts["rows_read"],
        absent=night.absent,
    )
    night.counts["dq_warnings"] = len(night.gate.warnings())
    _step(night, "quality_gate", f"data-quality gate: {night.gate.summary()}")
    if not night.gate.success:
        raise GateFailed(f"The data-quality gate stopped the night of {night.as_of}. {night.gate.summary()}")


def choose_recompute(night: Night, backfill: bool) -> None:
    """Incremental when nothing but claims changed since the last successful night; else everyone."""
    night.fingerprint = incremental.fingerprint(night.con, night.config.hash, night.ruleset.hash)
    wanted = night.config.engine.incremental and night.config.engine.buckets == 1 and not backfill
    if wanted and incremental.can_update(night.con, night.fingerprint, night.as_of):
        night.recompute = "incremental"


@task(name="normalise-drugs", cache_policy=NO_CACHE)
def map_drugs(night: Night) -> None:
    night.counts.update(normalise.map_ingredients(night.con, night.ruleset, night.run_id))
    _step(night, "normalise", "mapped drugs to ingredients")


def register_rules(night: Night) -> None:
    """The active rule pairs, and which of their ingredients count toward serotonergic burden."""
    engine.register_rules(night.con, night.ruleset.pair_table(), night.ruleset.burden_ingredients())


@task(name="episodes", cache_policy=NO_CACHE)
def build_episodes(night: Night) -> None:
    register_rules(night)
    night.counts.update(engine.build_episodes(night.con, night.as_of, night.config.episodes))
    scope = ""
    if "patients_recomputed" in night.counts:
        scope = f" (incremental: recomputed {night.counts['patients_recomputed']:,} patients)"
    _step(night, "episodes", f"built {night.counts['episodes']:,} episodes{scope}")


@task(name="interactions", cache_policy=NO_CACHE)
def find_interactions(night: Night) -> None:
    found = engine.find_interactions(night.con, night.config.interactions, night.config.episodes)
    night.counts.update(found)
    _step(night, "interactions", f"found {sum(found.values()):,} interactions")


@task(name="backfill", cache_policy=NO_CACHE)
def backfill_nights(night: Night, first: date) -> None:
    """The nights from `first` up to the day before the run date, in order, each as of its own date."""
    register_rules(night)
    nights = 0
    for offset in range((night.as_of - first).days):
        as_of = first + timedelta(days=offset)
        engine.build_episodes(night.con, as_of, night.config.episodes)
        engine.find_interactions(night.con, night.config.interactions, night.config.episodes)
        alerts.backfill_night(
            night.con,
            night.run_id,
            as_of,
            night.config.alerts,
            last_night=night.as_of,
            overlap_growth_days=night.config.alerts.overlap_growth_days,
            merge_gap_days=night.config.interactions.merge_gap_days,
        )
        nights += 1
    night.counts["backfilled_nights"] = nights
    _step(night, "backfill", f"backfilled {nights} night(s) from {first}")


@task(name="engine-bucket", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def engine_bucket(folder: str, bucket: int, as_of: str, episodes: dict, interactions: dict) -> str:
    return buckets.run_bucket(folder, bucket, as_of, episodes, interactions)


def run_in_buckets(night: Night, warehouse: Path) -> None:
    """Episodes, interactions and burden per bucket of patients, on the flow's (Dask) task runner."""
    settings = night.config.engine
    register_rules(night)
    with tempfile.TemporaryDirectory(
        prefix="serosurv-buckets-", dir=settings.bucket_dir or warehouse.parent
    ) as tmp:
        buckets.export_buckets(night.con, Path(tmp), settings.buckets)
        episodes, interactions = night.config.to_dict()["episodes"], night.config.to_dict()["interactions"]
        futures = [
            engine_bucket.submit(tmp, b, night.as_of.isoformat(), episodes, interactions)
            for b in range(settings.buckets)
        ]
        night.counts.update(buckets.load_outputs(night.con, [f.result() for f in futures]))
    _step(night, "engine", f"ran the engine on {settings.buckets} buckets of patients")


@task(name="serotonergic-burden", cache_policy=NO_CACHE)
def measure_burden(night: Night) -> None:
    night.counts.update(engine.find_burden(night.con))
    _step(
        night,
        "burden",
        f"found {night.counts['burden_periods']:,} periods of 3+ concurrent serotonergic drugs",
    )


@task(name="alerts", cache_policy=NO_CACHE)
def classify_alerts(night: Night) -> None:
    night.counts.update(
        alerts.update_alerts(
            night.con,
            night.run_id,
            night.as_of,
            night.config.alerts,
            overlap_growth_days=night.config.alerts.overlap_growth_days,
            merge_gap_days=night.config.interactions.merge_gap_days,
        )
    )
    _step(night, "alerts", "alerts classified")


@task(name="report", cache_policy=NO_CACHE)
def write_reports(night: Night) -> dict[str, Path]:
    staged = write_night_reports(night.con, night.run_id, night.out_dir)
    _step(night, "report", "wrote the audit report and worklist")
    return staged


def _record_run(night: Night, status: str, message: str = "") -> None:
    c = night.counts
    run = {
        "run_id": night.run_id,
        "as_of": night.as_of,
        "started_at": night.started_at,
        "status": status,
        "rows_read": c.get("rows_read"),
        "rows_accepted": c.get("rows_accepted"),
        "rows_quarantined": c.get("rows_quarantined"),
        "config_hash": night.config.hash,
        "rules_hash": night.ruleset.hash,
        "input_files": "; ".join(night.inputs),
        "message": message,
        "parameters": json.dumps(night.config.to_dict(), sort_keys=True),
        "engine_fingerprint": night.fingerprint,
        "recompute": night.recompute,
    }
    runs.record_run(night.con, run, c)


def _record_failure(night: Night, exc: BaseException, saved_quarantine: Path | None) -> None:
    """After the rollback: keep the run's failure, its gate results and profile, and its quarantine, so
    the failed night can be inspected (its claims, episodes and alerts stay as they were)."""
    with transaction(night.con):
        # Our own errors carry no identifiers; others may quote data, so only their type is kept.
        message = str(exc)[:2000] if isinstance(exc, SerosurvError) else type(exc).__name__
        _record_run(night, "failed", message)
        if night.gate is not None:
            quality.record_profile(night.con, night.gate.profile)
            quality.record_results(night.con, night.run_id, night.gate.results)
        if saved_quarantine is not None:
            runs.restore_quarantine(night.con, saved_quarantine)


def _failed_page(night: Night) -> Path | None:
    """The failed night's page where its report would have been (None when even that cannot be written)."""
    try:
        return write_failed_night(night.con, night.run_id, night.out_dir)
    except Exception as exc:  # the night's own failure is what the operator must see
        log.warning("%s: could not write the failed night's page (%s)", night.as_of, type(exc).__name__)
        return None


def _save_quarantine(night: Night, folder: str) -> Path | None:
    """Before the rollback: the night's quarantine (when validation got that far), else None."""
    if not night.validated:
        return None
    try:
        return runs.save_quarantine(night.con, night.run_id, Path(folder))
    except duckdb.Error:
        return None  # the failure itself may have broken the connection: the run is still recorded


def import_gate_in_background() -> None:
    """Great Expectations takes ~4 s to import: import it while Prefect starts and the claims are read
    and checked, rather than when the night reaches the gate (a second call is a no-op import)."""
    threading.Thread(target=importlib.import_module, args=("great_expectations",), daemon=True).start()


@flow(name="serosurv-nightly", log_prints=False, validate_parameters=False)
def nightly(
    claims: list[str],
    warehouse: str,
    out_dir: str,
    as_of: str | None = None,
    config_file: str | None = None,
    patients: str | None = None,
    fmt: str = "canonical",
    backfill_from: str | None = None,
) -> dict[str, Any]:
    """One night: claims files in, warehouse tables and the audit report out."""
    import_gate_in_background()
    config = load_config(config_file)
    rules_dir = Path(config.rules.directory) if config.rules.directory else None
    ruleset = load_rules(
        rules_dir, include_related=config.rules.include_related, jurisdiction=config.rules.jurisdiction
    )
    night_date = date.fromisoformat(as_of) if as_of else date.today()
    # One writer at a time: a second run on this warehouse waits (up to [warehouse] busy_timeout) before
    # it reads anything; so does a run that finds the file open in another process (DuckDB's own lock).
    wait = busy_wait(config)
    with warehouse_lock(warehouse, "run", wait), owner_only():
        con = connect(
            warehouse,
            config.warehouse.memory_limit,
            config.warehouse.threads,
            config.warehouse.temp_directory,
            wait=wait,
        )
        # On the spill disk when one is configured: a converted 100M-row CSV is gigabytes.
        workdir = tempfile.TemporaryDirectory(
            prefix="serosurv-night-", dir=config.warehouse.temp_directory or None, ignore_cleanup_errors=True
        )
        night = Night(
            con=con,
            run_id=f"{night_date:%Y%m%d}-{uuid.uuid4().hex[:8]}",
            as_of=night_date,
            config=config,
            ruleset=ruleset,
            out_dir=Path(out_dir),
            inputs=[f"{fmt}: {p}" for p in claims],
            workdir=Path(workdir.name),
        )
        try:
            con.execute("begin transaction")
            try:
                ingest_claims(night, claims, patients, fmt)
                check_rows(night)
                _record_run(night, "running")
                catalog.write_rules_catalog(con, night.ruleset)
                choose_recompute(night, backfill=bool(backfill_from))
                with ExitStack() as scope:
                    if night.recompute == "incremental":
                        scope.enter_context(incremental.mapping_scope(con, night.run_id))
                    map_drugs(night)
                quality_gate(night)
                if backfill_from:
                    backfill_nights(night, date.fromisoformat(backfill_from))
                if night.config.engine.buckets > 1:
                    run_in_buckets(night, Path(warehouse))
                else:
                    with ExitStack() as scope:
                        if night.recompute == "incremental":
                            night.counts["patients_recomputed"] = incremental.mark_affected(
                                con, night.run_id, night.as_of, night.config.episodes.ongoing_max_days
                            )
                            scope.enter_context(incremental.patient_scope(con))
                        build_episodes(night)
                        find_interactions(night)
                        measure_burden(night)
                night.counts.update(engine.totals(con))
                classify_alerts(night)
                _record_run(night, "success")
                staged = write_reports(night)
                con.execute("commit")
            except BaseException as exc:
                with tempfile.TemporaryDirectory(
                    prefix="serosurv-failed-", dir=config.warehouse.temp_directory or None
                ) as keep:
                    saved = _save_quarantine(night, keep)
                    con.execute("rollback")
                    _record_failure(night, exc, saved)
                page = _failed_page(night)
                if isinstance(exc, GateFailed) and page:
                    raise GateFailed(f"{exc} What failed, the quarantine and what to do: {page}") from None
                raise
            reports = {
                name: tmp.rename(tmp.with_name(tmp.name.removesuffix(".tmp"))).resolve()
                for name, tmp in staged.items()
            }
            return {
                "run_id": night.run_id,
                "as_of": str(night_date),
                "counts": night.counts,
                "reports": reports,
                "timings": night.timings,
            }
        finally:
            con.close()
            workdir.cleanup()


def configured(engine: EngineConfig):
    """The nightly flow with the task runner the engine settings ask for: Dask (a given scheduler, or a
    local cluster with one worker per core) when the engine runs on buckets, else Prefect's default."""
    if engine.buckets <= 1:
        return nightly
    import os

    from prefect_dask import DaskTaskRunner

    if engine.dask_address:
        runner = DaskTaskRunner(address=engine.dask_address)
    else:
        runner = DaskTaskRunner(cluster_kwargs={"n_workers": os.cpu_count() or 2, "threads_per_worker": 1})
    return nightly.with_options(task_runner=runner)
