"""Read-only probes of an np database file, shared by ``np doctor`` and ``np backup``.

Nothing here changes the database: connections are plain (no file creation, no
migration, no pragmas that write), and the write-lock probe is ``BEGIN IMMEDIATE``
followed at once by ``ROLLBACK``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from typing import Any

from ..errors import StorageBusy, StorageError
from ..settings import busy_timeout
from ..text import counted
from .conn import begin_immediate, classify_error, sqlite_uri

PROBLEM_SAMPLE = 5  # how many offending rows a finding names


def open_existing(path: str, *, timeout: float | None = None) -> sqlite3.Connection:
    """A plain connection to an existing file: no file creation, no migration, no pragmas
    that write. ``timeout`` is the busy timeout in seconds (default: ``busy_timeout()``).

    Raises:
        StorageError: there is no file at ``path`` (``data``: ``field="db"``, ``path``,
            ``cause="missing"``), or SQLite cannot open it (``cause`` from
            :func:`store.sqlite.conn.classify_error`).
    """
    if not os.path.isfile(path):
        raise StorageError(
            "There is no np database at that path.", field="db", path=path, cause="missing"
        )
    try:
        return sqlite3.connect(
            sqlite_uri(path),
            isolation_level=None,
            timeout=busy_timeout() if timeout is None else timeout,
            uri=True,
        )
    except sqlite3.Error as exc:
        raise StorageError(
            f"The database cannot be opened ({exc}).",
            field="db",
            path=path,
            cause=str(classify_error(exc)),
        ) from None


def integrity_check(conn: sqlite3.Connection, *, limit: int = 20) -> list[str]:
    """``PRAGMA integrity_check``: ``["ok"]`` for a sound file, else SQLite's findings."""
    return [str(row[0]) for row in conn.execute(f"PRAGMA integrity_check({int(limit)})")]


def journal_mode(conn: sqlite3.Connection) -> str:
    """``PRAGMA journal_mode``, lower case (``wal``, ``delete`` …)."""
    return str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()


def wal_size(path: str) -> int:
    """Bytes in ``PATH-wal`` (0 when there is none: the last connection checkpointed it)."""
    try:
        return os.path.getsize(path + "-wal")
    except OSError:
        return 0


def file_modes(path: str) -> tuple[int, int | None]:
    """``(folder mode, file mode)`` as permission bits; the file's is None when absent."""
    folder = os.path.dirname(os.path.abspath(path))
    folder_mode = stat.S_IMODE(os.stat(folder).st_mode)
    try:
        file_mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        file_mode = None
    return folder_mode, file_mode


def probe_write_lock(path: str, *, timeout: float | None = None) -> float:
    """Seconds it took to get the write lock (``BEGIN IMMEDIATE`` then ``ROLLBACK``).

    Raises:
        StorageBusy: another process held the lock past ``timeout`` seconds (``data``:
            ``field="db"``, ``path``, ``timeout``, ``cause``).
        StorageError: the file cannot be locked for writing at all (same ``data``).
    """
    if timeout is None:
        timeout = busy_timeout()
    with contextlib.closing(open_existing(path, timeout=timeout)) as conn:
        started = time.perf_counter()
        try:
            begin_immediate(conn, path, timeout=timeout)  # waits in slices: stoppable
        except (StorageBusy, StorageError) as exc:
            data = {**exc.data, "timeout": timeout}
            if isinstance(exc, StorageBusy):
                raise StorageBusy(
                    f"Another process has held the write lock for more than {timeout:g} s.",
                    **data,
                ) from None
            raise StorageError(f"The write lock cannot be taken ({exc.message})", **data) from None
        waited = time.perf_counter() - started
        conn.execute("ROLLBACK")
    return waited


def sample(items: list[Any]) -> str:
    """The first :data:`PROBLEM_SAMPLE` items, comma-separated, and how many more."""
    shown = ", ".join(str(r) for r in items[:PROBLEM_SAMPLE])
    more = len(items) - PROBLEM_SAMPLE
    return shown + (f" and {more} more" if more > 0 else "")


def consistency_problems(conn: sqlite3.Connection) -> list[str]:
    """np's own invariants, checked over the whole file in set-based queries.

    Gapless per-session ``seq`` starting at 1; every task has its ``task_added`` event and
    every ``task_added`` event its task; each session's ``last_updated_at`` is at least its
    newest event's time; each session starts with ``session_started``; foreign keys hold.
    An empty list means no half-written command is visible."""
    problems: list[str] = []
    gaps = conn.execute(
        "SELECT sid FROM events GROUP BY sid HAVING min(seq) != 1 OR count(*) != max(seq)"
    ).fetchall()
    if gaps:
        problems.append(f"event seq has gaps in session {sample([r[0] for r in gaps])}")
    orphans = conn.execute(
        "SELECT sid, id FROM tasks EXCEPT "
        "SELECT sid, json_extract(payload, '$.task.id') FROM events WHERE type = 'task_added'"
    ).fetchall()
    if orphans:
        problems.append(
            f"{counted(len(orphans), 'task')} without a task_added event: "
            + sample([f"{r[0]}/{r[1]}" for r in orphans])
        )
    ghosts = conn.execute(
        "SELECT sid, json_extract(payload, '$.task.id') FROM events WHERE type = 'task_added' "
        "EXCEPT SELECT sid, id FROM tasks"
    ).fetchall()
    if ghosts:
        problems.append(
            f"{counted(len(ghosts), 'task_added event')} without their task: "
            + sample([f"{r[0]}/{r[1]}" for r in ghosts])
        )
    stale = conn.execute(
        "SELECT s.sid FROM sessions s "
        "JOIN (SELECT sid, max(at) AS newest FROM events GROUP BY sid) e ON e.sid = s.sid "
        "WHERE s.last_updated_at < e.newest"
    ).fetchall()
    if stale:
        problems.append(
            "last_updated_at is older than the newest event in session "
            + sample([r[0] for r in stale])
        )
    unstarted = conn.execute(
        "SELECT s.sid FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM events e "
        "WHERE e.sid = s.sid AND e.seq = 1 AND e.type = 'session_started')"
    ).fetchall()
    if unstarted:
        problems.append(
            "no session_started event at seq 1 in session " + sample([r[0] for r in unstarted])
        )
    broken_fk = conn.execute("PRAGMA foreign_key_check").fetchall()
    if broken_fk:
        problems.append(
            f"{counted(len(broken_fk), 'row')} {'breaks' if len(broken_fk) == 1 else 'break'} "
            "a foreign key"
        )
    return problems


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per table: ``sessions``, ``active_sessions``, ``tasks``, ``events``."""

    def one(sql: str) -> int:
        return int(conn.execute(sql).fetchone()[0])

    return {
        "sessions": one("SELECT count(*) FROM sessions"),
        "active_sessions": one("SELECT count(*) FROM sessions WHERE state = 'active'"),
        "tasks": one("SELECT count(*) FROM tasks"),
        "events": one("SELECT count(*) FROM events"),
    }


def human_size(n: int) -> str:
    """``n`` bytes as ``512 B``, ``1.5 KB``, ``3.2 MB`` or ``1.0 GB``."""
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


__all__ = [
    "PROBLEM_SAMPLE",
    "consistency_problems",
    "counts",
    "file_modes",
    "human_size",
    "integrity_check",
    "journal_mode",
    "open_existing",
    "probe_write_lock",
    "sample",
    "wal_size",
]
