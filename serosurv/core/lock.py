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
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from serosurv.core.errors import SerosurvError

_held: dict[str, int] = {}  # lock path -> nesting depth, for this process
_held_guard = threading.Lock()


class WarehouseBusy(SerosurvError):
    """Another process is writing the warehouse; trying again later is the remedy (a transient error)."""


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
def warehouse_lock(warehouse: Path | str, command: str = "run") -> Iterator[Path]:
    """Hold the warehouse's write lock for the duration of the block, or refuse at once.

    Raises WarehouseBusy (a SerosurvError, exit 2) naming the holder when another process has it."""
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

    fd = _acquire(path, Path(warehouse), command)
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
            raise WarehouseBusy(_busy_message(warehouse, label)) from None
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


def _busy_message(warehouse: Path, label: dict[str, str]) -> str:
    who = "another serosurv process"
    if label.get("pid"):
        who = f"serosurv {label.get('command', 'run')} (pid {label['pid']} on {label.get('host', '?')}"
        who += f", since {label['started_at']})" if label.get("started_at") else ")"
    return (
        f"The warehouse {warehouse} is being written by {who}; wait for it to finish and run again "
        "(one writer at a time keeps nights whole)."
    )
