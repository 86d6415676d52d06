"""`serosurv serve`: the nightly deployment, the night a scheduled run processes, and what is retried."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from dataclasses import asdict, replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from flows import serve as serving
from serosurv.cli import main
from serosurv.core.config import Config, ScheduleConfig, load_config
from serosurv.core.errors import GateFailed, SerosurvError
from serosurv.core.lock import WarehouseBusy

ROOT = Path(__file__).resolve().parents[1]
NEW_YORK = ZoneInfo("America/New_York")

# A gate that stops any night in which some paid claim maps to no rule drug (the demo's do not all map).
STRICT_GATE = "[validation]\nmin_claims_for_shares = 1\n[validation.checks]\nrule_mapped_share = { warn = 0.0, stop = 1.0 }\n"


def write_config(path: Path, schedule: str, extra: str = "") -> Path:
    path.write_text(textwrap.dedent(extra) + "\n[schedule]\n" + textwrap.dedent(schedule), encoding="utf-8")
    return path


def rows(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('cron = "30 25 * * *"', "Setting 'schedule.cron' has '25' in the hour field, which allows 0-23"),
        ('cron = "daily"', "Setting 'schedule.cron' needs five fields"),
        ('cron = "*/0 2 * * *"', "Setting 'schedule.cron' has a bad step '*/0'"),
        ('timezone = "Mars/Olympus"', "Setting 'schedule.timezone' must be an IANA time zone"),
        ('night = "tomorrow"', "Setting 'schedule.night' must be one of previous_day, same_day"),
        (
            'claims = "/data/{site}/{date}.csv"',
            "Setting 'schedule.claims' may only use the placeholder {date}",
        ),
        ("retries = 50", "Setting 'schedule.retries' must be at most 20"),
        ("retry_delay_seconds = 600\nretry_max_delay_seconds = 60", "must not be below"),
        ('name = "a/b"', "Setting 'schedule.name' must be a name without '/'"),
    ],
)
def test_bad_schedule_settings_are_one_sentence_errors(tmp_path, setting, message):
    with pytest.raises(SerosurvError, match="^[^\n]+\\.$") as error:
        load_config(write_config(tmp_path / "s.toml", setting + "\n"))
    assert message in str(error.value)


def test_cron_names_and_ranges_are_accepted(tmp_path):
    config = load_config(write_config(tmp_path / "s.toml", 'cron = "0,30 1-3/2 * jan-dec mon-fri"\n'))
    assert config.schedule.cron == "0,30 1-3/2 * jan-dec mon-fri"


def test_the_schedule_is_not_part_of_the_configuration_hash(tmp_path):
    scheduled = write_config(tmp_path / "s.toml", 'cron = "0 4 * * *"\nclaims = "/data/{date}/*.csv"\n')
    assert load_config(scheduled).hash == Config().hash


def test_retry_waits_double_up_to_the_maximum():
    settings = ScheduleConfig(retries=5, retry_delay_seconds=60, retry_max_delay_seconds=300)
    assert settings.retry_delays == [60, 120, 240, 300, 300]
    assert ScheduleConfig(retries=0).retry_delays == []


# ---------------------------------------------------------------------------- the deployment


def test_the_deployment_carries_cron_time_zone_parameters_and_retries(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write_config(
        tmp_path / "nightly.toml",
        """\
        name = "pharmacy-a"
        cron = "15 3 * * *"
        timezone = "America/New_York"
        claims = "extracts/{date}/*.csv"
        patients = "extracts/patients.parquet"
        format = "pde"
        out_dir = "audit"
        retries = 3
        retry_delay_seconds = 30
        retry_max_delay_seconds = 100
        """,
    )
    settings, config_file = serving.schedule_settings(config)
    deployment = serving.build_deployment(settings, config_file)

    assert (deployment.flow_name, deployment.name) == ("serosurv-scheduled-night", "pharmacy-a")
    assert deployment.entrypoint == "flows.serve.scheduled_night"
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("15 3 * * *", "America/New_York")
    assert deployment.parameters == {
        "schedule": {
            "name": "pharmacy-a",
            "cron": "15 3 * * *",
            "timezone": "America/New_York",
            "night": "previous_day",
            "claims": str(tmp_path / "extracts/{date}/*.csv"),
            "patients": str(tmp_path / "extracts/patients.parquet"),
            "format": "pde",
            "out_dir": str(tmp_path / "audit"),
            "retries": 3,
            "retry_delay_seconds": 30,
            "retry_max_delay_seconds": 100,
        },
        "config_file": str(config),
        "warehouse": serving.warehouse_for(str(config)),  # fixed, absolute, when the schedule is registered
    }
    assert ScheduleConfig(**deployment.parameters["schedule"]).retry_delays == [30, 60, 100]


def test_serve_needs_the_claims_location(tmp_path, capsys):
    assert main(["serve", "--config", str(write_config(tmp_path / "s.toml", 'cron = "0 3 * * *"\n'))]) == 2
    assert "Setting 'schedule.claims' is empty" in capsys.readouterr().err


def test_dry_run_shows_schedule_nights_files_and_retries_without_a_server(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    config = write_config(
        tmp_path / "s.toml",
        f'timezone = "Europe/London"\nclaims = "{tmp_path}/in/{{date}}.csv"\nretries = 2\n',
    )
    assert main(["serve", "--config", str(config), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "serosurv-scheduled-night/nightly" in out
    assert "30 2 * * * (Europe/London); each run processes the day before it starts" in out
    assert out.count("-> night ") == 3
    assert f"{tmp_path}/in/{{date}}.csv (canonical)" in out and "no file yet" in out
    assert "2 on transient errors, waiting 60, 120 s" in out


def test_as_of_goes_with_once(tmp_path, capsys):
    config = write_config(tmp_path / "s.toml", f'claims = "{tmp_path}/{{date}}.csv"\n')
    assert main(["serve", "--config", str(config), "--as-of", "2025-12-31"]) == 2
    assert "--as-of goes with --once" in capsys.readouterr().err


def test_serve_without_a_prefect_server_says_how_to_start_one(tmp_path, capsys):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    config = write_config(tmp_path / "s.toml", f'claims = "{tmp_path}/{{date}}.csv"\n')
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "PREFECT_API_URL is not set: start one with `prefect server start`" in err
    assert "Traceback" not in err
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert main(["serve", "--config", str(config)]) == 2
    assert "No Prefect server answers at PREFECT_API_URL=http://127.0.0.1:9/api" in capsys.readouterr().err


def test_serve_registers_the_deployment_with_the_server(prefect_harness, tmp_path, monkeypatch):
    import prefect
    from prefect.client.orchestration import get_client

    served = []

    def serve_and_return(*deployments, **options):  # prefect.serve would poll for runs until stopped
        served.extend(d.apply() for d in deployments)

    monkeypatch.setattr(prefect, "serve", serve_and_return)
    monkeypatch.setenv("PREFECT_LOGGING_EXTRA_LOGGERS", "serosurv")
    config = write_config(
        tmp_path / "s.toml",
        f'name = "registered"\ncron = "45 1 * * *"\ntimezone = "Europe/Berlin"\nclaims = "{tmp_path}/{{date}}.csv"\n',
    )
    assert main(["serve", "--config", str(config)]) == 0

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("serosurv-scheduled-night/registered")
    assert [deployment.id] == served and not deployment.paused
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (
        "45 1 * * *",
        "Europe/Berlin",
        True,
    )
    assert deployment.parameters["schedule"]["claims"] == f"{tmp_path}/{{date}}.csv"
    assert deployment.parameters["config_file"] == str(config)


# ---------------------------------------------------------------------------- which night, which files


@pytest.mark.parametrize(
    ("scheduled_start", "timezone", "night", "expected"),
    [
        (
            datetime(2026, 3, 15, 2, 30, tzinfo=NEW_YORK),
            "America/New_York",
            "previous_day",
            date(2026, 3, 14),
        ),
        (
            datetime(2026, 3, 15, 6, 30, tzinfo=ZoneInfo("UTC")),
            "America/New_York",
            "previous_day",
            date(2026, 3, 14),
        ),
        # 01:30 UTC is still 14 March in New York: the schedule's time zone decides, not UTC.
        (
            datetime(2026, 3, 15, 1, 30, tzinfo=ZoneInfo("UTC")),
            "America/New_York",
            "previous_day",
            date(2026, 3, 13),
        ),
        (datetime(2026, 3, 14, 23, 0, tzinfo=NEW_YORK), "America/New_York", "same_day", date(2026, 3, 14)),
        (
            datetime(2026, 1, 1, 0, 0, tzinfo=ZoneInfo("Europe/London")),
            "Europe/London",
            "previous_day",
            date(2025, 12, 31),
        ),
    ],
)
def test_the_night_is_named_by_the_scheduled_start_in_the_schedule_time_zone(
    scheduled_start, timezone, night, expected
):
    assert serving.night_for(scheduled_start, timezone, night) == expected


def test_consecutive_scheduled_runs_process_consecutive_nights_across_a_clock_change():
    settings = ScheduleConfig(cron="30 2 * * *", timezone="America/New_York")
    # 8 March 2026: New York clocks skip from 02:00 to 03:00, so that day's 02:30 does not exist.
    starts = serving.next_runs(settings, 4, after=datetime(2026, 3, 6, 12, tzinfo=NEW_YORK))
    nights = [serving.night_for(start, settings.timezone) for start in starts]
    assert nights == [date(2026, 3, 6), date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)]


def test_a_nights_files_come_from_the_date_placeholder_and_glob(tmp_path):
    for name in ("b-20251231.csv", "a-20251231.csv", "a-20251230.csv"):
        (tmp_path / name).write_text("claim_id\n")
    pattern = str(tmp_path / "*-{date:%Y%m%d}.csv")
    assert serving.night_files(pattern, date(2025, 12, 31)) == [
        str(tmp_path / "a-20251231.csv"),
        str(tmp_path / "b-20251231.csv"),
    ]
    (tmp_path / "2025-12-31").mkdir()
    (tmp_path / "2025-12-31" / "claims.csv").write_text("claim_id\n")
    assert serving.night_files(str(tmp_path / "{date}" / "claims.csv"), date(2025, 12, 31)) == [
        str(tmp_path / "2025-12-31" / "claims.csv")
    ]
    assert serving.night_files(pattern, date(2026, 1, 1)) == []


# ---------------------------------------------------------------------------- retries


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (WarehouseBusy("The warehouse x is being written by serosurv run (pid 1)."), True),
        (serving.FilesNotArrived("No file matches x yet."), True),
        (OSError(28, "No space left on device"), True),
        (duckdb.IOException("Could not set lock on file"), True),
        (duckdb.OutOfMemoryException("could not allocate block"), True),
        (SerosurvError("Claims file x.csv, row 3, field fill_date: not a date."), False),
        (GateFailed("The data-quality gate stopped the night of 2025-12-31."), False),
        (duckdb.ConversionException("Could not convert string"), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_transient_errors_are_retried(error, retried):
    assert serving.is_transient(error) is retried


def _hold_lock_in_child(warehouse: Path) -> subprocess.Popen:
    code = textwrap.dedent(
        f"""
        import time
        from serosurv.core.lock import warehouse_lock
        with warehouse_lock({str(warehouse)!r}, command="run"):
            print("held", flush=True)
            time.sleep(120)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True
    )
    assert child.stdout.readline().strip() == "held"
    return child


@pytest.fixture
def counted_nights(monkeypatch):
    """Every attempt at a night, by date, while the real nightly flow runs."""
    attempts: list[str] = []
    real = serving.configured

    def counting_flow(engine):
        night = real(engine)

        def counting(**parameters):
            attempts.append(parameters["as_of"])
            return night(**parameters)

        return counting

    monkeypatch.setattr(serving, "configured", counting_flow)
    return attempts


def test_a_busy_warehouse_is_retried_and_bad_input_is_not(
    prefect_harness, generated, tmp_path, counted_nights
):
    out = tmp_path / "out"
    settings = ScheduleConfig(
        claims=str(generated["claims"]),
        out_dir=str(out),
        retries=2,
        retry_delay_seconds=0,
        retry_max_delay_seconds=0,
    )
    # Each attempt waits [warehouse] busy_timeout for the warehouse, then the schedule's retries take over.
    impatient = write_config(tmp_path / "impatient.toml", "", extra="[warehouse]\nbusy_timeout = 0\n")
    child = _hold_lock_in_child(out / "serosurv.duckdb")
    try:
        with pytest.raises(WarehouseBusy, match=f"pid {child.pid}"):
            serving.scheduled_night(
                schedule=asdict(settings),
                config_file=str(impatient),
                as_of="2025-12-31",
                warehouse=str(out / "serosurv.duckdb"),
            )
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert counted_nights == ["2025-12-31"] * 3  # the first attempt and both retries

    counted_nights.clear()
    strict = write_config(tmp_path / "strict.toml", "", extra=STRICT_GATE)
    with pytest.raises(GateFailed):
        serving.scheduled_night(
            schedule=asdict(settings),
            config_file=str(strict),
            as_of="2025-12-31",
            warehouse=str(out / "serosurv.duckdb"),
        )
    assert counted_nights == ["2025-12-31"]  # failed at once
    assert rows(out / "serosurv.duckdb", "SELECT as_of, status FROM runs") == [(date(2025, 12, 31), "failed")]


def test_tonights_missing_files_are_waited_for_but_a_named_nights_are_not(
    prefect_harness, tmp_path, monkeypatch
):
    looked: list[date] = []
    real = serving.night_files
    monkeypatch.setattr(
        serving, "night_files", lambda pattern, night: looked.append(night) or real(pattern, night)
    )
    settings = ScheduleConfig(
        claims=str(tmp_path / "{date}.csv"), retries=2, retry_delay_seconds=0, retry_max_delay_seconds=0
    )
    with pytest.raises(serving.FilesNotArrived, match="may not have arrived"):
        serving.scheduled_night(schedule=asdict(settings))  # tonight, from the (current) scheduled start
    assert len(looked) == 3

    looked.clear()
    with pytest.raises(SerosurvError, match="for the night of 2025-12-31\\.$") as error:
        serving.scheduled_night(schedule=asdict(settings), as_of="2025-12-31")
    assert not isinstance(error.value, serving.FilesNotArrived) and looked == [date(2025, 12, 31)]


# ---------------------------------------------------------------------------- end to end


def test_a_scheduled_run_of_the_deployment_processes_its_own_night(
    prefect_harness, generated, tmp_path, capsys
):
    """Registered with the server, run as the runner runs a scheduled flow run (long after its
    scheduled start, as a late or retried run would be); then the same night again with --once."""
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Scheduled

    extracts = tmp_path / "extracts"
    extracts.mkdir()
    shutil.copy(generated["claims"], extracts / "claims-20251231.parquet")
    shutil.copy(generated["claims"], extracts / "claims-20260101.parquet")  # the next night's: not read
    config = write_config(
        tmp_path / "nightly.toml",
        f"""\
        name = "end-to-end"
        cron = "30 2 * * *"
        timezone = "America/New_York"
        claims = "{extracts}/claims-{{date:%Y%m%d}}.parquet"
        out_dir = "{tmp_path / "out"}"
        """,
        extra=f'[warehouse]\npath = "{tmp_path / "out" / "serosurv.duckdb"}"\n',
    )
    settings, config_file = serving.schedule_settings(config)
    deployment_id = serving.build_deployment(settings, config_file).apply()

    scheduled_start = datetime(2026, 1, 1, 2, 30, tzinfo=NEW_YORK)
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment(deployment_id)
        flow_run = client.create_flow_run_from_deployment(
            deployment_id, state=Scheduled(scheduled_time=scheduled_start)
        )
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("30 2 * * *", "America/New_York")
    assert deployment.parameters == {
        "schedule": asdict(settings),
        "config_file": str(config),
        "warehouse": str(tmp_path / "out" / "serosurv.duckdb"),
    }
    assert flow_run.parameters.get("as_of") is None  # the night comes from the schedule

    result = run_flow(serving.scheduled_night, flow_run=flow_run)

    assert result["as_of"] == "2025-12-31"
    warehouse = tmp_path / "out" / "serosurv.duckdb"
    ((as_of, status, inputs),) = rows(warehouse, "SELECT as_of, status, input_files FROM runs")
    assert (as_of, status) == (date(2025, 12, 31), "success")
    assert inputs == f"canonical: {extracts / 'claims-20251231.parquet'}"
    assert (tmp_path / "out" / "2025-12-31" / "report.html").is_file()
    with get_client(sync_client=True) as client:
        finished = client.read_flow_run(flow_run.id)
    assert finished.state.is_completed() and finished.expected_start_time == scheduled_start
    history = rows(warehouse, "SELECT as_of, alert_id, status FROM alert_history ORDER BY ALL")
    assert history

    # Re-running the night by hand through the same settings replaces it: same alerts, no duplicates.
    assert main(["serve", "--config", str(config), "--once", "--as-of", "2025-12-31"]) == 0
    assert "Night 2025-12-31" in capsys.readouterr().out
    assert rows(warehouse, "SELECT as_of, alert_id, status FROM alert_history ORDER BY ALL") == history
    assert rows(warehouse, "SELECT as_of, status, count(*) FROM runs GROUP BY ALL") == [
        (date(2025, 12, 31), "success", 2)
    ]


def test_served_settings_are_the_configured_ones_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write_config(
        tmp_path / "s.toml", 'claims = "~/claims/{date}.csv"\n', extra='[warehouse]\npath = "w.duckdb"\n'
    )
    settings, config_file = serving.schedule_settings(config)
    configured = load_config(config).schedule
    assert settings == replace(
        configured, claims=os.path.expanduser("~/claims/{date}.csv"), out_dir=str(tmp_path / "out")
    )
    assert config_file == str(config)
    assert serving.warehouse_for(config_file) == str(tmp_path / "w.duckdb")
