"""A process that is stopping (a server that got SIGTERM, SIGINT or SIGHUP) stops waiting
for another process's write lock: the write it was waiting to make is answered
``storage_busy`` with nothing written, within one slice of the wait
(:data:`store.sqlite.conn.WAIT_SLICE_MS`), instead of after the whole busy timeout, so the
server answers every request it read and ends promptly. Stdlib only, importable from a
signal handler."""

from __future__ import annotations

import threading

STOPPING = threading.Event()


def stop_waiting() -> None:
    """From now on, no write of this process waits for the lock (safe in a signal handler)."""
    STOPPING.set()
