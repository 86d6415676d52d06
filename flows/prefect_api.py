"""The Prefect API a night reports to: ready when the night starts, and as cheap as it can be.

With an API configured (PREFECT_API_URL, in the environment or a Prefect profile: a `prefect server
start` kept running, as docs/operations.md recommends), that one, and nothing else is started or probed:
a night never reports to a server nobody named.

Without one, Prefect 3 starts a temporary API server in each process
(`prefect.server.api.server.SubprocessASGIServer`), when the flow first calls the API: it imports the
whole server into the calling process (4-6 s, 100 MB), then starts it in a subprocess that imports it
again, creates or upgrades its database and starts its services. `prefect_api()` starts that same
server itself (the same command: uvicorn on Prefect's `create_app`, as an ephemeral server, without
its UI) as soon as the input files have been checked, before the night's modules are imported, so that
the server's start and the imports overlap (two processes), and the calling process never imports the
server. It also:

- keeps the server's database when PREFECT_HOME is not set: in `$XDG_CACHE_HOME/serosurv/prefect-<version>`
  (else `~/.cache/...`), one per Prefect version (an older Prefect cannot open a database a newer one
  upgraded), so that its creation and migrations (about 8 s of CPU) are paid once, not by every night. A
  PREFECT_HOME that is set (the Makefile's `.prefect`, the tests' temporary ones) is used as Prefect
  uses it;
- turns off the server services a night does not use (they record task runs and events, run
  automations and stream to the UI, which a temporary server does not serve), unless set otherwise;
- reports a server that exits during its start at once, with the reason, instead of waiting out the
  start-up time;
- stops the server when the process ends (it is killed with its parent too, on Linux).

The server is started once per process and shared by the nights it runs (the Python API may run several).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from serosurv.core.errors import SerosurvError

# Services a temporary server needs for no night: recording task runs and events (read only in the
# UI, which a temporary server does not serve), automations, streaming events and logs to the UI.
SERVICES_OFF = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_LOGGER_ENABLED": "false",
    "PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED": "false",
    "PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}
STARTUP_FAILURE = 3  # uvicorn's exit code when it cannot bind its port, or the app's start-up failed
LOG_NAME = "temporary-server.log"


def kept_home(version: str) -> Path:
    """Where the temporary server keeps its database when PREFECT_HOME is not set."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "serosurv" / f"prefect-{version}"


def startup_failed(seconds: float) -> SerosurvError:
    return SerosurvError(
        f"Prefect's temporary API server did not start within {seconds:g} s (a busy machine), so the night "
        "did not start and the warehouse is as it was. Run it again, wait longer with "
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or run against a Prefect server (PREFECT_API_URL)."
    )


class TemporaryServer:
    """Prefect's temporary API server, started in a subprocess by this process."""

    def __init__(self, environment: dict[str, str], home: Path, timeout: float) -> None:
        self.environment = environment
        self.home = home
        self.timeout = timeout
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.started = 0.0
        self.ready = False  # it answered since it was last started
        self._guard = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SerosurvError(
                f"Prefect's temporary API server cannot keep its database in {self.home} ({exc.strerror}); "
                "set PREFECT_HOME to a writable folder, or run against a Prefect server (PREFECT_API_URL)."
            ) from None
        self.port = _free_port()
        self.ready = False
        with open(self.home / LOG_NAME, "wb") as log:  # the server's own error lines, should it fail
            self.process = subprocess.Popen(
                _command(self.port),
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.started = time.monotonic()

    def wait(self) -> str:
        """Block until the server answers (or raise SerosurvError) and return its API URL."""
        with self._guard:
            if self.process is not None and self.process.poll() is None and self.ready:
                return self.url
            if self.process is None:
                self.start()
            retries = 3
            while True:
                code = self.process.poll()
                if code == STARTUP_FAILURE and retries and _taken(self.port):
                    retries -= 1  # another process took the port between choosing and binding it
                    self.start()
                    continue
                if code is not None:
                    raise self._exited(code)
                if _healthy(self.url):
                    self.ready = True
                    return self.url
                if time.monotonic() - self.started >= self.timeout:
                    self.stop()
                    raise startup_failed(self.timeout)
                time.sleep(0.1)

    def stop(self) -> None:
        process, self.process, self.ready = self.process, None, False
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _exited(self, code: int) -> SerosurvError:
        log = self.home / LOG_NAME
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
        errors = [line for line in lines if re.match(r"[\w.]+(Error|Exception): ", line)]
        reason = (errors or lines or ["no message"])[-1][:300]
        return SerosurvError(
            f"Prefect's temporary API server stopped while starting (exit code {code}: {reason}), so the "
            f"night did not start and the warehouse is as it was; its output is in {log}. Check that "
            f"{self.home} is writable, or run against a Prefect server (PREFECT_API_URL)."
        )


_server: TemporaryServer | None = None


@contextlib.contextmanager
def prefect_api() -> Iterator[Callable[[], None]]:
    """Within the block, Prefect talks to the configured API or to a temporary server started on entry;
    the block calls the function it is given before the flow, which waits for the server (SerosurvError
    if it does not start in PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS). Enter it before importing
    the flows, so that they are imported while the server starts."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    global _server
    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        # A configured server; or Prefect told not to start one, which Prefect itself reports.
        yield lambda: None
        return
    home = Path(settings.home)
    environment = {
        **SERVICES_OFF,  # unless set otherwise
        **os.environ,
        **settings.to_environment_variables(exclude_unset=True),
        # As Prefect starts it (SubprocessASGIServer._run_uvicorn_command): an ephemeral server, no UI.
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
    }
    environment.pop("PREFECT_API_URL", None)
    # Its output goes to its log file, not the terminal: errors included (the CLI quiets Prefect's console).
    environment["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "ERROR"
    if "home" not in settings.model_fields_set:  # PREFECT_HOME not set: a kept database of our own
        from prefect import __version__

        home = kept_home(__version__)
        environment["PREFECT_HOME"] = str(home)
    if _server is None or _server.environment != environment:  # the first night, or other settings
        if _server is None:
            atexit.register(_stop)
        else:
            _server.stop()
        _server = TemporaryServer(environment, home, float(settings.server.ephemeral.startup_timeout_seconds))
    server = _server
    if server.process is None or server.process.poll() is not None:
        server.start()  # the first night of this process; or its server stopped since the last one
    saved = os.environ.get("PREFECT_API_URL")
    with contextlib.ExitStack() as scope:

        def ready() -> None:
            url = server.wait()
            # Settings for this process's flows; the environment for the processes a night starts (Dask).
            os.environ["PREFECT_API_URL"] = url
            scope.enter_context(temporary_settings(updates={PREFECT_API_URL: url}))

        try:
            yield ready
        finally:
            if saved is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = saved


def _stop() -> None:
    if _server is not None:
        _server.stop()


def _command(port: int) -> list[str]:
    import importlib.util

    prefect_dir = Path(importlib.util.find_spec("prefect").origin).parent
    start = [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect_dir.parent)]
    start += ["--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port)]
    start += ["--log-level", "error", "--lifespan", "on"]
    if sys.platform != "linux":
        return start
    # Killed with its parent (SIGKILL included): prctl(PR_SET_PDEATHSIG, SIGTERM) survives the exec.
    launcher = (
        "import ctypes, os, signal, sys; "
        "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0); "
        "os.getppid() == int(sys.argv[1]) or sys.exit(1); "
        "os.execv(sys.executable, sys.argv[2:])"
    )
    return [sys.executable, "-c", launcher, str(os.getpid()), *start]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False
