"""One writer at a time: an exclusive lock per warehouse file, held for the whole of a write.

The lock is `fcntl.flock` on `<warehouse>.lock`. The kernel releases a flock when the last descriptor
of its holder closes, and a process that dies (even by SIGKILL or a power cut of the process) closes
every descriptor it had, so a lock can never outlive its holder: whoever gets the flock knows that
no other process is writing. That is what makes a lock file left behind by a killed run safe to
treat as stale: the file is only a label (pid, host, start time, for the message), never the lock
itself. The label is rewritten by each holder and the file is removed on release.

Removing the file on release needs one guard: a process that opened the old file just before it was
removed could lock that orphaned inode while a third process creates and locks a new file. So after
locking, the holder checks that the path still names the inode it locked, and retries if not.

The lock is re-entrant within one process (the CLI and the flow may both take it), so nested
`warehouse_lock` calls on one warehouse share the outer lock.

A busy warehouse is waited for, not refused: `wait_for_warehouse` tries again with a short backoff
(0.2 s growing to 2 s) for as long as the command's `BusyWait` says (`[warehouse] busy_timeout`, or
$SEROSURV_BUSY_TIMEOUT), logging who holds it once and then every minute, and stops with one sentence
(`WarehouseBusy`) naming the holder and the setting. Both locks are waited for this way: this module's
write lock and DuckDB's own file lock (`serosurv.core.warehouse`), which any open connection holds,
a read-only one included.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from serosurv.core.config import BusyWait
from serosurv.core.errors import SerosurvError

log = logging.getLogger("serosurv")
T = TypeVar("T")

_held: dict[str, int] = {}  # lock path -> nesting depth, for this process
_held_guard = threading.Lock()

FIRST_DELAY, MAX_DELAY, GROWTH = 0.2, 2.0, 1.5  # seconds between attempts while the warehouse is busy
SAY_AGAIN_EVERY = 60.0  # seconds between "still waiting" lines


class WarehouseBusy(SerosurvError):
    """Another process holds the warehouse (writing it, or with DuckDB's file lock) and did not let go
    within the command's wait; trying again later is the remedy (a transient error)."""


class Held(Exception):
    """One attempt found the warehouse held: `holder` says by whom (no data, for messages); `writing`
    is True for serosurv's own write lock, False for DuckDB's file lock (any open connection)."""

    def __init__(self, holder: str, writing: bool) -> None:
        super().__init__(holder)
        self.holder = holder
        self.writing = writing


def wait_for_warehouse(warehouse: Path | str, attempt: Callable[[], T], wait: BusyWait | None = None) -> T:
    """`attempt()` until it does not raise `Held`, for up to `wait.seconds` (None or 0: one attempt).

    Logs who holds the warehouse when it first finds it held, then every minute; raises WarehouseBusy
    (one sentence naming the holder, what to do and the setting) when the time is up."""
    seconds = wait.seconds if wait else 0.0
    setting = wait.setting if wait else "[warehouse] busy_timeout"
    start = time.monotonic()
    delay, said, said_at = FIRST_DELAY, "", start
    while True:
        try:
            return attempt()
        except Held as held:
            now = time.monotonic()
            if now - start >= seconds:
                raise WarehouseBusy(_busy_message(Path(warehouse), held, seconds, setting)) from None
            if not said or held.holder != said:
                log.warning(
                    "the warehouse %s is %s %s; waiting up to %s for it (%s)",
                    warehouse,
                    "being written by" if held.writing else "in use by",
                    held.holder,
                    duration(seconds),
                    setting,
                )
                said, said_at = held.holder, now
            elif now - said_at >= SAY_AGAIN_EVERY:
                log.warning(
                    "still waiting for the warehouse %s, %s %s (%s so far, up to %s)",
                    warehouse,
                    "being written by" if held.writing else "in use by",
                    held.holder,
                    duration(now - start),
                    duration(seconds),
                )
                said_at = now
            time.sleep(max(0.0, min(delay, start + seconds - now)))
            delay = min(delay * GROWTH, MAX_DELAY)


def duration(seconds: float) -> str:
    """600 -> '10 min', 90 -> '90 s', 1.5 -> '1.5 s' (for messages)."""
    if seconds >= 120:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"


def _busy_message(warehouse: Path, held: Held, seconds: float, setting: str) -> str:
    state = "being written by" if held.writing else "in use by"
    if held.writing:
        remedy = "run again once it has finished (one writer at a time keeps nights whole)"
    else:
        remedy = "run again once that program has closed it"
    if seconds > 0:
        return (
            f"The warehouse {warehouse} is still {state} {held.holder} after waiting {duration(seconds)}; "
            f"{remedy}, or raise {setting} to wait longer."
        )
    return f"The warehouse {warehouse} is {state} {held.holder}; {remedy}, or set {setting} to wait for it."


def lock_path(warehouse: Path | str) -> Path:
    """`out/serosurv.duckdb` -> `out/serosurv.duckdb.lock` (next to the warehouse it guards)."""
    warehouse = Path(warehouse).resolve()
    return warehouse.with_name(warehouse.name + ".lock")


def holder(warehouse: Path | str) -> dict[str, str] | None:
    """Who holds the lock now (pid, host, started_at, command), or None when nobody does."""
    path = lock_path(warehouse)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_label(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # a file without a live holder: stale
    finally:
        os.close(fd)


@contextmanager
def warehouse_lock(
    warehouse: Path | str, command: str = "run", wait: BusyWait | None = None
) -> Iterator[Path]:
    """Hold the warehouse's write lock for the duration of the block, waiting up to `wait` for another
    process to release it (None: refuse at once).

    Raises WarehouseBusy (a SerosurvError, exit 2) naming the holder when it does not."""
    path = lock_path(warehouse)
    key = str(path)
    with _held_guard:
        if key in _held:
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield path
        finally:
            with _held_guard:
                _held[key] -= 1
        return

    fd = wait_for_warehouse(warehouse, lambda: _acquire(path, Path(warehouse), command), wait)
    with _held_guard:
        _held[key] = 1
    try:
        yield path
    finally:
        with _held_guard:
            del _held[key]
        _release(path, fd)


def _acquire(path: Path, warehouse: Path, command: str) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            label = _read_label(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise SerosurvError(f"Cannot lock the warehouse {warehouse}: {exc.strerror}.") from None
            raise Held(_holder_text(label), writing=True) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # we locked a file its holder had just removed; lock the one at the path now
    # Any earlier label belongs to a holder that has died (we hold the flock): replace it.
    label = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command,
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(label) + "\n").encode(), 0)
    os.fsync(fd)
    return fd


def _release(path: Path, fd: int) -> None:
    try:
        os.unlink(path)  # while still locked, so nobody can lock this inode and believe it current
    except FileNotFoundError:
        pass
    finally:
        os.close(fd)  # closing releases the flock


def _read_label(fd: int) -> dict[str, str]:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        label = json.loads(text)
        return {k: str(v) for k, v in label.items()} if isinstance(label, dict) else {}
    except (OSError, ValueError):
        return {}  # the holder may not have written its label yet


def _holder_text(label: dict[str, str]) -> str:
    """'serosurv run (pid 12 on host, since 2026-03-15T02:30:00+00:00)' from the lock file's label."""
    if not label.get("pid"):
        return "another serosurv process"  # its label is not written yet
    who = f"serosurv {label.get('command', 'run')} (pid {label['pid']} on {label.get('host', '?')}"
    return who + (f", since {label['started_at']})" if label.get("started_at") else ")")
