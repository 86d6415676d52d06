"""Files and folders serosurv creates are readable by their owner only (0600 files, 0700 folders).

The warehouse and the worklists hold patient-level data, and the dashboard and prevalence tables name
prescribers and pharmacies: nobody but the account that runs serosurv should read them unless it says
so. Rather than chmod each file after writing it (DuckDB, Polars and Arrow create their own files, and a
chmod after the fact leaves a moment when the file is readable), every entry point (the CLI, the API
functions and the nightly flow) runs with the process umask tightened by 077, so whatever any library
creates meanwhile gets no group or other permission. Files that already exist keep their mode.

The umask belongs to the process, not to a thread: while an operation runs, files that other threads of
the same process create are owner-only too. Nested operations (the demo runs a night, the night's flow)
share the outermost one's umask, which is restored when it ends.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

OWNER_ONLY = 0o077  # umask bits: no permission for group or others

_guard = threading.Lock()
_depth = 0
_saved = 0


@contextmanager
def owner_only() -> Iterator[None]:
    """Within the block (or the decorated function: `@owner_only()`), created files are owner-only."""
    global _depth, _saved
    with _guard:
        if _depth == 0:
            _saved = os.umask(OWNER_ONLY)
            os.umask(_saved | OWNER_ONLY)
        _depth += 1
    try:
        yield
    finally:
        with _guard:
            _depth -= 1
            if _depth == 0:
                os.umask(_saved)
