"""Health checks of an np database (``np doctor``).

Nothing here changes the database it examines: the checks open their own connections,
never run migrations, and the write-lock probe is ``BEGIN IMMEDIATE`` followed at once by
``ROLLBACK``. :func:`diagnose` runs a fixed list of check functions, in order: first those
that read through one connection, then those that look at the file and its lock.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from typing import Any

import attrs

from ..errors import StorageBusy, StorageError
from ..ops.results import FAIL, OK, WARN, Check, Report
from ..paths import dir_path
from ..settings import busy_timeout
from ..text import counted
from .conn import Failure, classify_error
from .probes import (
    consistency_problems,
    counts,
    file_modes,
    human_size,
    integrity_check,
    journal_mode,
    open_existing,
    probe_write_lock,
    sample,
    wal_size,
)
from .schema import SCHEMA_VERSION, foreign_database, foreign_tables, read_version

WAL_WARN_BYTES = 64 * 1024 * 1024  # a WAL this big means checkpoints are being starved


@attrs.frozen
class _Facts:
    """What every check may look at: read once, through one connection."""

    path: str
    conn: sqlite3.Connection
    size: int  # bytes
    version: int
    mode: str  # journal mode
    lock_timeout: float  # seconds


CheckFn = Callable[[_Facts], list[Check]]


def diagnose(path: str, *, lock_timeout: float | None = None) -> Report:
    """Every check of ``np doctor``, in order; reads only, never writes.

    ``lock_timeout`` is how long, in seconds, the write-lock probe waits (default: the
    busy timeout). Problems are findings in the report, never exceptions.
    """
    if not os.path.exists(path):
        return _missing_database(path)
    if not os.path.isfile(path):
        return Report(
            path, (Check("database", FAIL, "The database path is not a regular file.", {}),)
        )
    size = os.path.getsize(path)
    try:
        conn = open_existing(path)
    except StorageError as exc:
        return Report(path, (Check("database", FAIL, exc.message, {"size": size}),))
    timeout = busy_timeout() if lock_timeout is None else lock_timeout
    checks: list[Check] = []
    with contextlib.closing(conn):
        try:
            conn.execute("PRAGMA query_only = ON")
            facts = _Facts(path, conn, size, read_version(conn), journal_mode(conn), timeout)
        except sqlite3.DatabaseError as exc:
            checks.append(Check("database", FAIL, _unreadable(exc), {"size": size}))
            checks.extend(_permission_check(path))
            return Report(path, tuple(checks))
        for check in _CONNECTION_CHECKS:
            checks.extend(check(facts))
    for check in _FILE_CHECKS:  # after the connection is closed
        checks.extend(check(facts))
    return Report(path, tuple(checks))


def _missing_database(path: str) -> Report:
    """No file yet: healthy if np could create it (nearest existing folder writable)."""
    folder = os.path.dirname(os.path.abspath(path))
    existing = folder
    while not os.path.isdir(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if os.access(existing, os.W_OK | os.X_OK):
        check = Check(
            "database",
            OK,
            "No database yet; np creates it (folder 0700, file 0600) on first use.",
            {"exists": False},
        )
    else:
        check = Check(
            "database",
            FAIL,
            f"No database yet, and np cannot create one because {existing} is not writable; "
            "fix its permissions or use another database file.",
            {"exists": False, "blocked_by": existing},
        )
    return Report(path, (check,))


def _unreadable(exc: sqlite3.DatabaseError) -> str:
    if classify_error(exc) in (Failure.READ_ONLY, Failure.CANNOT_OPEN):
        return (
            f"The database cannot be opened for reading and writing ({exc}); the file or "
            "its folder is read-only, fix the permissions."
        )
    return (
        f"This is not a readable SQLite database ({exc}); restore a backup or use another "
        "database file."
    )


# -- checks through the connection ----------------------------------------------------------


def _database_check(facts: _Facts) -> list[Check]:
    return [
        Check(
            "database",
            OK,
            f"SQLite file of {human_size(facts.size)}.",
            {"size": facts.size, "exists": True},
        )
    ]


def _schema_check(facts: _Facts) -> list[Check]:
    version = facts.version
    data: dict[str, Any] = {"schema_version": version, "supported": SCHEMA_VERSION}
    try:
        foreign = foreign_tables(facts.conn, version)
    except sqlite3.DatabaseError:
        foreign = None  # unreadable: the integrity check says so
    if foreign is not None:
        message = foreign_database(foreign).message
        return [Check("schema", FAIL, message, {**data, "foreign": True, "tables": foreign[:5]})]
    if version > SCHEMA_VERSION:
        message = (
            f"Schema {version} was written by a newer np (this np knows {SCHEMA_VERSION}); "
            "upgrade np."
        )
        return [Check("schema", FAIL, message, data)]
    if version < SCHEMA_VERSION:
        message = f"Schema {version}; np migrates it to {SCHEMA_VERSION} on the next write."
        return [Check("schema", OK, message, data)]
    return [Check("schema", OK, f"Schema {version}, current.", data)]


def _integrity_check(facts: _Facts) -> list[Check]:
    try:
        findings = integrity_check(facts.conn)
    except sqlite3.DatabaseError as exc:
        findings = [str(exc)]
    if findings == ["ok"]:
        return [Check("integrity", OK, "PRAGMA integrity_check: ok.", {"result": findings})]
    message = (
        f"PRAGMA integrity_check found damage ({findings[0]}); back up what you can and "
        "restore the last good backup."
    )
    return [Check("integrity", FAIL, message, {"result": findings})]


def _content_checks(facts: _Facts) -> list[Check]:
    """``consistency`` and ``sessions``: only for a file of the current schema."""
    if facts.version != SCHEMA_VERSION:
        return []
    conn = facts.conn
    try:
        conn.execute("BEGIN")  # one snapshot for every query: writers may be committing
        try:
            found = counts(conn)
            problems = consistency_problems(conn)
            active = conn.execute(
                "SELECT sid, dir, last_updated_at FROM sessions WHERE state = 'active' "
                "ORDER BY last_updated_at DESC"
            ).fetchall()
        finally:
            conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        return [Check("consistency", FAIL, f"The np tables cannot be read ({exc}).", {})]
    summary = (
        f"{counted(found['sessions'], 'session')}, {counted(found['tasks'], 'task')}, "
        f"{counted(found['events'], 'event')}"
    )
    if problems:
        consistency = Check(
            "consistency",
            FAIL,
            f"{summary}, but {'; '.join(problems)}.",
            {**found, "problems": problems},
        )
    else:
        consistency = Check(
            "consistency",
            OK,
            f"{summary}; seq gapless and every task logged.",
            {**found, "problems": []},
        )
    sessions = [{"sid": r[0], "dir": r[1], "last_updated_at": r[2]} for r in active]
    gone = [s["dir"] for s in sessions if not os.path.isdir(dir_path(s["dir"]))]
    data: dict[str, Any] = {"active": sessions, "missing_dirs": gone}
    if gone:
        message = (
            f"{len(sessions)} active; the directory of {len(gone)} no longer exists "
            f"({sample(gone)}); archive those sessions if their work is over."
        )
        return [consistency, Check("sessions", WARN, message, data)]
    return [consistency, Check("sessions", OK, f"{len(sessions)} active.", data)]


def _wal_check(facts: _Facts) -> list[Check]:
    wal, mode = wal_size(facts.path), facts.mode
    data = {"journal_mode": mode, "wal_bytes": wal}
    if mode != "wal" and facts.version > 0:
        message = f"The journal mode is {mode}, not wal; readers and writers will block each other."
        return [Check("wal", WARN, message, data)]
    if wal > WAL_WARN_BYTES:
        message = (
            f"The write-ahead log holds {human_size(wal)}; a long-lived reader may be "
            "blocking checkpoints."
        )
        return [Check("wal", WARN, message, data)]
    return [Check("wal", OK, f"journal mode {mode}, {human_size(wal)} not yet checkpointed.", data)]


# -- checks of the file and its lock --------------------------------------------------------


def _permission_check(path: str) -> list[Check]:
    folder_mode, file_mode = file_modes(path)
    folder = os.path.dirname(os.path.abspath(path))
    data: dict[str, Any] = {
        "folder_mode": f"{folder_mode:04o}",
        "file_mode": f"{file_mode:04o}" if file_mode is not None else None,
    }
    if not os.access(path, os.R_OK | os.W_OK):
        message = (
            "The database file is not readable and writable by you; fix its permissions "
            "(chmod 600) or its owner."
        )
        return [Check("permissions", FAIL, message, data)]
    if not os.access(folder, os.W_OK | os.X_OK):
        message = (
            "The database folder is not writable, so SQLite cannot create its -wal and -shm "
            "files; fix the folder's permissions (chmod 700)."
        )
        return [Check("permissions", FAIL, message, data)]
    loose = []
    if file_mode is not None and file_mode & 0o077:
        loose.append(f"the file is {file_mode:04o}")
    if folder_mode & 0o022:  # others could replace or delete the file
        loose.append(f"the folder is {folder_mode:04o} (writable by others)")
    if loose:
        message = (
            "Other users can reach your plans: "
            + " and ".join(loose)
            + "; np creates the file 0600 in a 0700 folder (chmod to tighten)."
        )
        return [Check("permissions", WARN, message, data)]
    message = f"folder {data['folder_mode']}, file {data['file_mode']}; private to you."
    return [Check("permissions", OK, message, data)]


def _permissions(facts: _Facts) -> list[Check]:
    return _permission_check(facts.path)


def _lock_check(facts: _Facts) -> list[Check]:
    timeout = facts.lock_timeout
    try:
        waited = probe_write_lock(facts.path, timeout=timeout)
    except StorageBusy:
        message = (
            f"Another process has held the write lock for more than {timeout:g} s, so "
            "writes will fail with storage_busy; find it (e.g. `fuser` on the database) "
            "and stop it."
        )
        return [Check("write_lock", FAIL, message, {"timeout": timeout})]
    except StorageError as exc:
        message = f"Writes are impossible: {exc.message}"
        return [Check("write_lock", FAIL, message, {"timeout": timeout})]
    message = f"reachable in {waited * 1000:.0f} ms (busy timeout {timeout:g} s)."
    return [
        Check(
            "write_lock",
            OK,
            message,
            {"waited_ms": round(waited * 1000, 2), "timeout": timeout},
        )
    ]


_CONNECTION_CHECKS: tuple[CheckFn, ...] = (
    _database_check,
    _schema_check,
    _integrity_check,
    _content_checks,
    _wal_check,
)
_FILE_CHECKS: tuple[CheckFn, ...] = (_permissions, _lock_check)


__all__ = ["diagnose"]
