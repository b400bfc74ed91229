"""The SQLite connection: opening a file safely, pragmas, and ``BEGIN IMMEDIATE`` with retry."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import time
from collections.abc import Iterator

from .errors import StorageBusy, StorageError

BUSY_TIMEOUT = 5.0  # seconds SQLite itself waits for the write lock (NP_BUSY_TIMEOUT overrides)
BEGIN_RETRIES = 3  # then a bounded, jittered retry of BEGIN IMMEDIATE


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


def begin_immediate(conn: sqlite3.Connection, path: str) -> None:
    """Take the write lock now. SQLite waits up to the busy timeout; then np retries a few
    times with jittered backoff before reporting ``storage_busy``."""
    for attempt in range(BEGIN_RETRIES + 1):
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise _storage_error(exc, path) from None
            if attempt == BEGIN_RETRIES:
                raise _storage_error(exc, path) from None
            import random

            time.sleep(random.uniform(0.01, 0.05) * (2**attempt))
        except sqlite3.DatabaseError as exc:
            raise _storage_error(exc, path) from None


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection, path: str) -> Iterator[None]:
    """One ``BEGIN IMMEDIATE`` transaction: COMMIT on success, ROLLBACK on any exception."""
    begin_immediate(conn, path)
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
