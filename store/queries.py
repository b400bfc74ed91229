"""Read queries shared by :class:`~store.store.Store` and the unit of work.

Each takes an open connection and runs inside whatever transaction the caller holds (a
deferred read for ``Store``, ``BEGIN IMMEDIATE`` for a unit of work).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from . import rows
from .errors import InvalidArgument, NoActiveSession
from .paths import ancestors, canonical_dir
from .types import Session, Task


def find_active(conn: sqlite3.Connection, directory: str) -> Session | None:
    """The nearest active session at ``directory`` or above it (one indexed query)."""
    candidates = ancestors(canonical_dir(directory))
    marks = ",".join("?" * len(candidates))
    found = {
        row[1]: row
        for row in conn.execute(
            f"SELECT {rows.SESSION_COLS} FROM sessions WHERE state = 'active' AND dir IN ({marks})",
            candidates,
        )
    }
    for candidate in candidates:
        if candidate in found:
            return rows.session(found[candidate])
    return None


def load_session(conn: sqlite3.Connection, sid: str) -> Session:
    """The session ``sid``, active or archived.

    Raises:
        InvalidArgument: no session has that id (``data``: ``field="sid"``, ``sid``).
    """
    row = conn.execute(f"SELECT {rows.SESSION_COLS} FROM sessions WHERE sid = ?", (sid,)).fetchone()
    if row is None:
        raise InvalidArgument("There is no session with that id.", field="sid", sid=sid[:40])
    return rows.session(row)


def no_session_error(directory: str) -> NoActiveSession:
    """The error for "nothing active at ``directory`` or above" (not raised here)."""
    return NoActiveSession(
        "There is no active session for this directory or its parents.",
        field="dir",
        dir=canonical_dir(directory),
    )


def tasks_by_id(conn: sqlite3.Connection, sid: str, ids: Iterable[str]) -> dict[str, Task]:
    """The tasks of ``sid`` with these ids (chunked below SQLite's variable limit)."""
    wanted = sorted(set(ids))
    found: dict[str, Task] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for row in conn.execute(
            f"SELECT {rows.TASK_COLS} FROM tasks WHERE sid = ? "
            f"AND id IN ({','.join('?' * len(chunk))})",
            (sid, *chunk),
        ):
            found[row[0]] = rows.task(row)
    return found


__all__ = ["find_active", "load_session", "no_session_error", "tasks_by_id"]
