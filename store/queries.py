"""Read queries shared by :class:`~store.store.Store` and the unit of work.

Each takes an open connection and runs inside whatever transaction the caller holds (a
deferred read for ``Store``, ``BEGIN IMMEDIATE`` for a unit of work).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable

from . import rows
from .errors import InvalidArgument, NoActiveSession
from .paths import ancestors, canonical_dir, dir_key, file_identity
from .types import Session, Task


def search_paths(directory: str) -> list[str]:
    """The directories whose session applies at ``directory``, nearest first: each
    ancestor of the path as given (the shell's logical ``$PWD``, where ``..`` and symlinks
    are not yet resolved), canonicalised; then each ancestor of its canonical path. For
    ``proj/lib`` where ``lib`` links elsewhere, ``proj`` is found as well as the link's
    target's parents."""
    given = os.path.abspath(os.path.expanduser(directory))
    real = canonical_dir(given)
    if real == given:
        return ancestors(real)  # no symlink on the way: both chains are this one
    out = [canonical_dir(p) for p in ancestors(given)]
    return list(dict.fromkeys([*out, *ancestors(real)]))


def locate(conn: sqlite3.Connection, directory: str) -> tuple[Session | None, Session | None]:
    """``(session, moved)``: the nearest active session at ``directory`` or above, by path
    (:func:`search_paths`), else by the directory's identity (``st_dev``, ``st_ino``: the
    same folder reached through a bind mount); ``moved`` is an active session whose
    recorded folder is no more where it was and whose identity is found here (the folder
    was renamed or moved): not adopted silently, the operator moves it."""
    paths = search_paths(directory)
    keys = [dir_key(p) for p in paths]
    marks = ",".join("?" * len(keys))
    found = {
        row[1]: row
        for row in conn.execute(
            f"SELECT {rows.SESSION_COLS} FROM sessions WHERE state = 'active' AND dir IN ({marks})",
            keys,
        )
    }
    for key in keys:
        if key in found:
            return rows.session(found[key]), None
    moved: Session | None = None
    for path in paths:
        ident = file_identity(path)
        if ident is None:
            continue
        for row in conn.execute(
            f"SELECT {rows.SESSION_COLS} FROM sessions "
            "WHERE state = 'active' AND dir_ino = ? AND dir_dev = ?",
            (ident[1], ident[0]),
        ):
            session = rows.session(row)
            if file_identity(session.dir) == ident:
                return session, None  # the same folder, reached by another path
            moved = moved or session
    return None, moved


def find_active(conn: sqlite3.Connection, directory: str) -> Session | None:
    """The nearest active session at ``directory`` or above it (:func:`locate`)."""
    return locate(conn, directory)[0]


def load_session(conn: sqlite3.Connection, sid: str) -> Session:
    """The session ``sid``, active or archived.

    Raises:
        InvalidArgument: no session has that id (``data``: ``field="sid"``, ``sid``).
    """
    row = conn.execute(f"SELECT {rows.SESSION_COLS} FROM sessions WHERE sid = ?", (sid,)).fetchone()
    if row is None:
        raise InvalidArgument("There is no session with that id.", field="sid", sid=sid[:40])
    return rows.session(row)


def no_session_error(directory: str, moved: Session | None = None) -> NoActiveSession:
    """The error for "nothing active at ``directory`` or above" (not raised here); when
    ``moved`` is the session whose folder was renamed to here, it says so (``data``:
    ``moved``, the session)."""
    if moved is not None:
        return NoActiveSession(
            f"This folder's plan was started at {moved.dir}, which is no longer there: the "
            "folder was renamed or moved. Do not start a new session; the operator can move "
            "that session here.",
            field="dir",
            dir=dir_key(canonical_dir(directory)),
            moved=rows.session_dict(moved),
        )
    return NoActiveSession(
        "There is no active session for this directory or its parents.",
        field="dir",
        dir=dir_key(canonical_dir(directory)),
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


__all__ = [
    "find_active",
    "load_session",
    "locate",
    "no_session_error",
    "search_paths",
    "tasks_by_id",
]
