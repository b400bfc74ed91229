"""The SQLite connection: opening a file safely, pragmas, and ``BEGIN IMMEDIATE`` within one
deadline."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import time
from collections.abc import Callable, Iterator

from .errors import StorageBusy, StorageError

# The longest one write waits for SQLite's write lock, in total, in seconds
# (NP_BUSY_TIMEOUT overrides); then it fails with storage_busy and nothing is written.
BUSY_TIMEOUT = 5.0


def busy_timeout() -> float:
    """``$NP_BUSY_TIMEOUT`` in seconds (0 to 600), else :data:`BUSY_TIMEOUT`."""
    raw = os.environ.get("NP_BUSY_TIMEOUT")
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if 0 <= value <= 600:
            return value
    return BUSY_TIMEOUT


def _storage_error(exc: BaseException, path: str) -> StorageError | StorageBusy:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StorageBusy(
            "The database stayed busy past the timeout and retries; try the command again.",
            path=path,
        )
    if "not a database" in text or "malformed" in text or "file is encrypted" in text:
        return StorageError(
            "The database file is damaged or is not an np database; point --db or NP_DB "
            "at another file, or restore a backup. The file was left untouched.",
            path=path,
        )
    if "readonly" in text or "read-only" in text or "permission" in text:
        return StorageError(
            "The database cannot be written (read-only file or folder); fix its permissions "
            "or point --db or NP_DB elsewhere.",
            path=path,
        )
    if "unable to open" in text:
        return StorageError(
            "The database file cannot be opened; check that its folder exists and is "
            "writable, or point --db or NP_DB elsewhere.",
            path=path,
        )
    if "disk" in text and "full" in text:
        return StorageError("The disk is full; free some space and try again.", path=path)
    return StorageError(f"The database reported an error ({exc}); nothing was written.", path=path)


@contextlib.contextmanager
def mapped_errors(path: str) -> Iterator[None]:
    """Turn sqlite3 and OS errors into the two storage errors users can act on."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise  # a constraint: the caller knows what it means
    except (sqlite3.DatabaseError, OSError) as exc:
        raise _storage_error(exc, path) from None


def _create_file(path: str) -> None:
    """Create the database file 0600 (and missing folders 0700) before SQLite opens it."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
    except FileExistsError:
        pass
    except OSError as exc:
        reason = "permission denied" if exc.errno in (errno.EACCES, errno.EPERM) else exc.strerror
        raise StorageError(
            f"Cannot create the database ({reason}); choose a writable place with --db or NP_DB.",
            path=path,
        ) from None


def connect(path: str, *, timeout: float | None = None, create: bool = True) -> sqlite3.Connection:
    """Open ``path`` with np's pragmas. The driver is in autocommit: np owns every BEGIN.
    ``timeout`` is the busy timeout in seconds (default: :func:`busy_timeout`)."""
    if timeout is None:
        timeout = busy_timeout()
    if path != ":memory:" and not os.path.exists(path):
        if not create:
            raise StorageError("There is no database there yet.", path=path)
        _create_file(path)
    with mapped_errors(path):
        conn = sqlite3.connect(path, isolation_level=None, timeout=timeout)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def begin_immediate(
    conn: sqlite3.Connection, path: str, on_wait: Callable[[bool], None] | None = None
) -> None:
    """Take the write lock, waiting for it at most the connection's busy timeout **in
    total** (``NP_BUSY_TIMEOUT``, default 5 s), then raise ``StorageBusy``.

    The first attempt does not wait. When another connection holds the lock,
    ``on_wait(True)`` is called once before waiting and ``on_wait(False)`` once the wait is
    over (lock taken or not), so a caller can let reads go ahead of a blocked write. Later
    attempts wait in SQLite's busy handler for whatever is left of the one deadline; a
    busy answer that comes back early (SQLite skips the handler in some WAL states) is
    retried after a short jittered sleep, still within the same deadline."""
    with mapped_errors(path):
        budget_ms = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    deadline = time.monotonic() + budget_ms / 1000
    waiting = False
    try:
        wait_ms = 0
        while True:
            try:
                conn.execute(f"PRAGMA busy_timeout={wait_ms}")
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise _storage_error(exc, path) from None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _storage_error(exc, path) from None
                if not waiting:
                    waiting = True
                    if on_wait is not None:
                        on_wait(True)
                else:  # SQLite gave up early: a short pause before the next try
                    import random  # rare path; keep it off the import path of every verb

                    time.sleep(min(left, random.uniform(0.005, 0.025)))
                    left = deadline - time.monotonic()
                wait_ms = max(1, int(left * 1000))
            except sqlite3.DatabaseError as exc:
                raise _storage_error(exc, path) from None
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute(f"PRAGMA busy_timeout={budget_ms}")
        if waiting and on_wait is not None:
            on_wait(False)


@contextlib.contextmanager
def write_transaction(
    conn: sqlite3.Connection, path: str, on_wait: Callable[[bool], None] | None = None
) -> Iterator[None]:
    """One ``BEGIN IMMEDIATE`` transaction: COMMIT on success, ROLLBACK on any exception.
    ``on_wait``: see :func:`begin_immediate`."""
    begin_immediate(conn, path, on_wait)
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise _storage_error(exc, path) from None


@contextlib.contextmanager
def read_transaction(conn: sqlite3.Connection, path: str) -> Iterator[None]:
    """A deferred transaction: one consistent snapshot, never the write lock."""
    with mapped_errors(path):
        conn.execute("BEGIN")
    try:
        with mapped_errors(path):
            yield
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
