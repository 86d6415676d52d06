"""Nights on a schedule: the Prefect deployment that `serosurv serve` registers and serves.

A scheduled run is the flow `scheduled_night`. It works out which night it is from the run's scheduled
start time (not the clock, so a run that starts late or is retried still processes its own night),
finds that night's files from the `[schedule]` patterns, and runs the night (`flows.nightly.nightly`,
unchanged) as a subflow.

Retries: Prefect retries a flow on any exception after one fixed delay, and has no retry condition for
flows; tasks have both. So each attempt at the night runs inside the task `night` (`run_night`),
which Prefect retries with a doubling delay when `is_transient` says the failure may pass (a warehouse
still busy after the attempt waited `[warehouse] busy_timeout` for it, files not there yet, I/O errors,
DuckDB out of memory), and never for bad input or a failed quality gate.
Retrying is safe because a night is one warehouse transaction: a failed attempt leaves nothing behind
but, at most, its `runs` row with status `failed`.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run as current_run

from flows.nightly import configured
from serosurv.core.config import ScheduleConfig, load_config, warehouse_path
from serosurv.core.errors import SerosurvError
from serosurv.core.lock import WarehouseBusy

log = logging.getLogger("serosurv")

FLOW_NAME = "serosurv-scheduled-night"


class FilesNotArrived(SerosurvError):
    """Tonight's claims (or patients) file is not there yet: the extract may still be on its way."""


# ---------------------------------------------------------------------------- which night, which files


def night_for(scheduled_start: datetime, timezone: str, night: str = "previous_day") -> date:
    """The night a run scheduled for `scheduled_start` processes: the day before its local date
    ("previous_day", for runs after midnight) or that date ("same_day", for runs before midnight)."""
    local_date = scheduled_start.astimezone(ZoneInfo(timezone)).date()
    return local_date - timedelta(days=1) if night == "previous_day" else local_date


def night_files(pattern: str, night: date) -> list[str]:
    """The files `pattern` names for `night` ({date} filled in, glob patterns expanded), sorted."""
    path = pattern.format(date=night)
    if any(c in path for c in "*?["):
        return sorted(p for p in glob.glob(path) if Path(p).is_file())
    return [path] if Path(path).is_file() else []


def _files_for(setting: str, pattern: str, night: date, scheduled: bool) -> list[str]:
    found = night_files(pattern, night)
    if found:
        return found
    if scheduled:  # tonight's extract may simply be late: worth waiting for
        raise FilesNotArrived(
            f"No file matches {pattern.format(date=night)} (schedule.{setting}) for the night of {night} "
            "yet; the extract may not have arrived."
        )
    raise SerosurvError(
        f"No file matches {pattern.format(date=night)} (schedule.{setting}) for the night of {night}."
    )


def _patients_file(settings: ScheduleConfig, night: date, scheduled: bool) -> str | None:
    if not settings.patients:
        return None
    found = _files_for("patients", settings.patients, night, scheduled)
    if len(found) > 1:
        raise SerosurvError(
            f"{settings.patients.format(date=night)} (schedule.patients) matches {len(found)} files for the "
            f"night of {night}; it must name one."
        )
    return found[0]


# ---------------------------------------------------------------------------- retries


def is_transient(exc: BaseException) -> bool:
    """True when the same night may well succeed later: the warehouse still held by another process
    after the attempt waited [warehouse] busy_timeout (another writer, or any process with the file
    open), the night's files not there yet, I/O errors (disk full, a network share away, DuckDB unable to open its
    file), DuckDB out of memory. Bad input, a failed quality gate, bad configuration and programming
    errors would fail the same way again, so they fail at once."""
    if isinstance(exc, (WarehouseBusy, FilesNotArrived)):
        return True
    if isinstance(exc, SerosurvError):
        return False
    return isinstance(exc, (OSError, duckdb.IOException, duckdb.OutOfMemoryException))


def retry_when_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect asks this (only while retries remain) whether to run the failed attempt again."""
    try:
        state.result()
    except Exception as exc:
        if not is_transient(exc):
            return False
        delays = task.retry_delay_seconds if isinstance(task.retry_delay_seconds, list) else [0]
        # Our own messages carry no identifiers; others may quote data, so only their type is logged.
        reason = str(exc) if isinstance(exc, SerosurvError) else type(exc).__name__
        attempt = task_run.run_count
        wait = delays[min(attempt - 1, len(delays) - 1)]
        log.warning("%s; retry %d of %d in %s s.", reason.rstrip("."), attempt, task.retries, wait)
        return True
    return False


# ---------------------------------------------------------------------------- the scheduled night


@task(name="night", cache_policy=NO_CACHE, persist_result=False)
def run_night(
    settings: ScheduleConfig,
    config_file: str | None,
    as_of: date,
    scheduled: bool,
    warehouse: str | None = None,
) -> dict[str, Any]:
    """One attempt at the night: find its files, then run the nightly flow on them."""
    claims = _files_for("claims", settings.claims, as_of, scheduled)
    patients = _patients_file(settings, as_of, scheduled)
    out_dir = Path(settings.out_dir)
    return configured(load_config(config_file).engine)(
        claims=claims,
        warehouse=warehouse or warehouse_for(config_file),
        out_dir=str(out_dir),
        as_of=as_of.isoformat(),
        config_file=config_file,
        patients=patients,
        fmt=settings.format,
    )


@flow(name=FLOW_NAME, log_prints=False, validate_parameters=False)
def scheduled_night(
    schedule: dict[str, Any],
    config_file: str | None = None,
    as_of: str | None = None,
    warehouse: str | None = None,
) -> dict[str, Any]:
    """A night run by the schedule: the night `as_of` names, else the one its scheduled start time names."""
    # In a served flow-run process nobody has set serosurv's level: let its progress lines reach the
    # run's log (serve_nightly names serosurv in PREFECT_LOGGING_EXTRA_LOGGERS).
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)
    settings = ScheduleConfig(**schedule)
    if as_of:
        the_night = date.fromisoformat(as_of)
    else:
        the_night = night_for(current_run.scheduled_start_time, settings.timezone, settings.night)
    log.info("night %s (run scheduled for %s)", the_night, current_run.scheduled_start_time)
    attempts = run_night.with_options(
        retries=settings.retries,
        retry_delay_seconds=settings.retry_delays or 0,
        retry_condition_fn=retry_when_transient,
    )
    return attempts(settings, config_file, the_night, scheduled=not as_of, warehouse=warehouse)


# ---------------------------------------------------------------------------- the deployment


def schedule_settings(config_file: Path | str | None = None) -> tuple[ScheduleConfig, str | None]:
    """The `[schedule]` settings, checked, with paths made absolute from the current folder; and the
    configuration file as an absolute path (each night reads its other settings from it)."""
    from transforms.adapters import check_format

    settings = load_config(config_file).schedule
    if not settings.claims:
        raise SerosurvError(
            "Setting 'schedule.claims' is empty; set it to where each night's claims files arrive, "
            'e.g. claims = "/data/claims/{date}/*.csv".'
        )
    check_format(settings.format)

    def absolute(path: str) -> str:
        return os.path.abspath(os.path.expanduser(path)) if path else path

    settings = replace(
        settings,
        claims=absolute(settings.claims),
        patients=absolute(settings.patients),
        out_dir=absolute(settings.out_dir),
    )
    return settings, str(Path(config_file).resolve()) if config_file else None


def warehouse_for(config_file: str | None) -> str:
    """The warehouse the scheduled nights write, as an absolute path fixed when the schedule is
    registered (the same rule as every command: serosurv.core.config.warehouse_path)."""
    return str(warehouse_path(None, load_config(config_file)).expanduser().resolve())


def build_deployment(settings: ScheduleConfig, config_file: str | None = None):  # -> RunnerDeployment
    """The Prefect deployment of `scheduled_night`: cron schedule in the time zone, parameters from
    the configuration (the checked `[schedule]` settings and the configuration file)."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    try:
        return scheduled_night.to_deployment(
            name=settings.name,
            schedules=[Cron(settings.cron, timezone=settings.timezone)],
            parameters={
                "schedule": asdict(settings),
                "config_file": config_file,
                "warehouse": warehouse_for(config_file),
            },
            description=(
                "serosurv nightly audit of serotonergic co-prescribing: each run processes the night its "
                f"scheduled start time names ({settings.night.replace('_', ' ')}, {settings.timezone}) and "
                f"retries transient failures up to {settings.retries} times."
            ),
            tags=["serosurv"],
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
    except ValueError as exc:  # Prefect's own schedule validation, as a backstop to serosurv.core.config
        first = str(exc).splitlines()[-1].strip() if str(exc) else type(exc).__name__
        raise SerosurvError(
            f"Prefect refused the schedule {settings.cron!r} ({settings.timezone}): {first}."
        ) from None


def next_runs(settings: ScheduleConfig, n: int = 3, after: datetime | None = None) -> list[datetime]:
    """The next `n` scheduled start times, computed as the Prefect server computes them."""
    from prefect.server.schemas.schedules import CronSchedule
    from prefect.utilities.asyncutils import run_coro_as_sync

    schedule = CronSchedule(cron=settings.cron, timezone=settings.timezone)
    starts = run_coro_as_sync(schedule.get_dates(n=n, start=after))
    return [start.astimezone(ZoneInfo(settings.timezone)) for start in starts]


def describe(settings: ScheduleConfig, config_file: str | None, after: datetime | None = None) -> str:
    """What `serosurv serve` registers, in words: schedule, next nights, files, outputs, retries."""
    starts = next_runs(settings, 3, after)
    upcoming = [(start, night_for(start, settings.timezone, settings.night)) for start in starts]
    first_night = upcoming[0][1]
    found = night_files(settings.claims, first_night)
    out_dir = Path(settings.out_dir)
    lines = [
        f"Deployment: {FLOW_NAME}/{settings.name} (needs a Prefect server: prefect server start)",
        f"Schedule:   {settings.cron} ({settings.timezone}); each run processes "
        + ("the day before it starts" if settings.night == "previous_day" else "the day it starts"),
        *(f"            {start:%Y-%m-%d %H:%M %Z} -> night {n}" for start, n in upcoming),
        f"Claims:     {settings.claims} ({settings.format}); for night {first_night}: "
        + (f"{len(found)} file(s) now" if found else "no file yet"),
        f"Patients:   {settings.patients or 'none'}",
        f"Warehouse:  {warehouse_for(config_file)}",
        f"Reports:    {out_dir}/<night>/ (report.html, alerts.csv, alerts.parquet)",
        f"Retries:    {settings.retries} on transient errors, waiting "
        + (", ".join(str(d) for d in settings.retry_delays) + " s" if settings.retries else "-"),
        f"Config:     {config_file or 'built-in defaults'}",
    ]
    return "\n".join(lines)


def require_server() -> str:
    """The Prefect API URL, once a server answers there; a one-sentence error otherwise (serving against
    Prefect's temporary in-process server would lose the schedule when the process ends)."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise SerosurvError(
            "serosurv serve needs a running Prefect server and PREFECT_API_URL is not set: start one with "
            "`prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api."
        )
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
    if problem is not None:
        raise SerosurvError(
            f"No Prefect server answers at PREFECT_API_URL={url} ({type(problem).__name__}); start one with "
            "`prefect server start` or correct the address."
        )
    return url


def serve_nightly(config_file: Path | str | None = None) -> None:
    """Register the nightly deployment with the Prefect server and run its nights as they come due,
    until stopped (Ctrl-C or SIGTERM pause the schedule; starting again resumes it)."""
    settings, config_path = schedule_settings(config_file)
    deployment = build_deployment(settings, config_path)
    url = require_server()
    for line in describe(settings, config_path).splitlines():
        log.info("%s", line)
    log.info("serving on %s; stop with Ctrl-C", url)
    # The flow-run processes started from here send serosurv's progress lines to the run's log too.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "serosurv")
    from prefect import serve

    serve(deployment, pause_on_shutdown=True)


def run_once(
    config_file: Path | str | None = None,
    as_of: date | None = None,
    before_night: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """One scheduled night now, in this process, exactly as the schedule runs it (files from the
    patterns, retries on transient errors): the night `as_of`, else the one the current time names.
    `before_night` is called once the settings and files are checked (it waits for the Prefect API)."""
    settings, config_path = schedule_settings(config_file)
    if as_of:  # a named night's files are there or not: say so before Prefect starts
        _files_for("claims", settings.claims, as_of, scheduled=False)
        _patients_file(settings, as_of, scheduled=False)
    before_night()
    return scheduled_night(
        schedule=asdict(settings),
        config_file=config_path,
        as_of=as_of.isoformat() if as_of else None,
        warehouse=warehouse_for(config_path),
    )
