"""The unit of work on PostgreSQL: np's logic unchanged, its round trips under the lock cut.

:class:`PgUnitOfWork` is :class:`store.unit.UnitOfWork` with three differences, all about
locking and round trips (the SQL itself goes through ``PgConnection``'s dialect helper):

- **Lock before you read.** Touching a session is ``UPDATE sessions … RETURNING``: the row
  lock serialises the units of one session (sessions do not serialise each other), and the
  row it returns is the latest committed one. The next ``seq`` (and, for an add, the task
  ids taken) are read by statements queued right behind it, so at READ COMMITTED they see
  every earlier commit, and all of it costs one round trip. The inserts, the ``NOTIFY`` and
  the ``COMMIT`` follow in one more: the lock is held for about one round trip.
- **Starting a session takes a lock** (``pg_advisory_xact_lock`` per scope) before it
  looks for an active session at or above the directory: without it a parent and a child
  directory could both start one (the partial unique index covers only the same
  directory).
- Its time is the server's transaction time (see ``PgConnection.write``), unless a test
  injects a clock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from psycopg import errors as pg_errors

from .. import rows
from ..types import NewTask, Session, Task
from ..unit import UnitOfWork, load_session
from .conn import PgConnection

SESSION_LOCK = "np:sessions "  # + scope: pg_advisory_xact_lock(hashtext(…))


class PgUnitOfWork(UnitOfWork):
    integrity_errors = (sqlite3.IntegrityError, pg_errors.IntegrityError)

    def __init__(self, conn: PgConnection, clock: Any, cmd: str, scope: str) -> None:
        super().__init__(cast(sqlite3.Connection, conn), clock, cmd, scope)
        self._pg = conn
        self._want_taken: str | None = None

    def touch_at(self, sid: str, at: datetime | None = None) -> Session:
        if at is not None:
            return super().touch_at(sid, at)
        pg = self._pg
        stamp = self.now()
        touched = pg.execute(
            f"UPDATE sessions SET last_updated_at = ? WHERE sid = ? RETURNING {rows.SESSION_COLS}",
            (stamp, sid),
        )
        # Queued behind the lock: they run once it is held, and travel in the same round trip.
        next_seq = pg.execute("SELECT coalesce(max(seq), 0) + 1 FROM events WHERE sid = ?", (sid,))
        if self._want_taken == sid:
            pg.prefetch("SELECT id FROM tasks WHERE sid = ?", (sid,))
        row = touched.fetchone()
        if row is None:
            load_session(self._conn, sid)  # raises "no session with that id"
            raise AssertionError("unreachable")
        session = rows.session(row)
        seq_row = next_seq.fetchone()
        assert seq_row is not None
        self._next_seq.setdefault(sid, int(seq_row[0]))
        self._sessions[sid] = session
        self._touched.add(sid)
        return session

    def add_tasks(self, sid: str, items: Sequence[NewTask]) -> list[Task]:
        self._want_taken = sid  # the ids taken are read with the touch, under the lock
        try:
            return super().add_tasks(sid, items)
        finally:
            self._want_taken = None

    def start_session(self, directory: str) -> Session:
        # Queued: the search for an active session at or above runs once the lock is held.
        self._pg.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (SESSION_LOCK + self.scope,))
        return super().start_session(directory)
