"""``Store``: the one entry point to an np database — reads, and units of work for writes."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator

from . import rows
from .clock import Clock, utc_now
from .db import connect, mapped_errors, read_transaction, reopen_if_replaced, write_transaction
from .errors import InvalidArgument, StorageBusy, StorageError
from .paths import db_location, file_identity
from .queries import find_active, load_session, locate, no_session_error, tasks_by_id
from .schema import ensure_schema
from .types import (
    PREVIEW_LIMIT,
    Event,
    Goal,
    Plan,
    Session,
    Status,
    Task,
    count_statuses,
    preview_ids,
)
from .unit import UnitOfWork


class Store:
    """An open np database. One connection, used from one thread at a time.

    Writes go through :meth:`transaction`, which yields a :class:`UnitOfWork` inside one
    ``BEGIN IMMEDIATE`` transaction. Reads use deferred transactions and never take the
    write lock.
    """

    def __init__(
        self,
        path: str,
        *,
        clock: Clock = utc_now,
        timeout: float | None = None,
        read_when_full: bool = False,
    ) -> None:
        """Open (creating file 0600 and folders 0700 if needed) and migrate ``path``.

        Args:
            path: the database file, or ``":memory:"``.
            clock: returns the current time; read once per unit of work.
            timeout: busy timeout in seconds (default: ``$NP_BUSY_TIMEOUT`` or 5).
            read_when_full: when the disk is too full for SQLite's shared-memory file,
                open anyway with it in memory (locking the file until closed): for a
                short-lived process, so reads still work on a full disk.

        Raises:
            StorageError: the file cannot be created, opened or migrated, is not an np
                database, or was written by a newer np.
            StorageBusy: a migration could not get the write lock.
        """
        self.path = path = db_location(path)
        self.clock = clock
        self.commits = 0  # units of work committed through this Store
        self.reopened = 0  # times the file at ``path`` was found replaced and reopened
        self._timeout = timeout
        try:
            self.conn = self._open(exclusive=False)
        except StorageError as exc:
            if not (read_when_full and exc.data.get("cause") == "full"):
                raise
            # The disk is too full for WAL's -shm file: read with the index in memory.
            self.conn = self._open(exclusive=True)
        self._identity = file_identity(path)

    def _open(self, *, exclusive: bool) -> sqlite3.Connection:
        conn = connect(self.path, timeout=self._timeout, exclusive=exclusive)
        try:
            with mapped_errors(self.path):
                ensure_schema(conn, self.path)
        except BaseException:
            conn.close()
            raise
        return conn

    def _same_file(self) -> None:
        """Before each read and write: if the path now names another file (a restore under
        a running server or monitor), move over to it (:func:`store.db.reopen_if_replaced`),
        so nothing is written into a file nobody will read again."""
        moved = reopen_if_replaced(self.conn, self.path, self._identity, self._timeout)
        if moved is None:
            return
        self.conn, self._identity = moved
        self.reopened += 1
        with mapped_errors(self.path):
            ensure_schema(self.conn, self.path)

    def _reading(self) -> contextlib.AbstractContextManager[None]:
        self._same_file()
        return read_transaction(self.conn, self.path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, cmd: str) -> Iterator[UnitOfWork]:
        """A unit of work for one command: all of it commits, or none of it does.

        ``cmd`` is recorded on every event the unit appends (who did it).

        Raises:
            StorageBusy: the write lock could not be had in time (nothing was written).
            StorageError: SQLite failed to begin or commit (nothing was written).
            NpError: whatever the unit's methods raise; the transaction rolls back.
        """
        self._same_file()
        unit = UnitOfWork(self.conn, self.clock, cmd)
        with write_transaction(self.conn, self.path), mapped_errors(self.path):
            if file_identity(self.path) != self._identity:  # replaced this very moment
                raise StorageBusy(
                    "The database file was replaced just now; nothing was written. Try again.",
                    field="db",
                    path=self.path,
                    cause="replaced",
                )
            yield unit
        self.commits += 1

    # -- reads ------------------------------------------------------------------------------

    def find_active(self, directory: str) -> Session | None:
        """The nearest active session at ``directory`` or above, else ``None``.

        Raises:
            StorageError: the database cannot be read.
        """
        with self._reading():
            return find_active(self.conn, directory)

    def session(self, sid: str) -> Session:
        """The session ``sid``, active or archived.

        Raises:
            InvalidArgument: no session has that id (``field="sid"``).
            StorageError: the database cannot be read.
        """
        with self._reading():
            return load_session(self.conn, sid)

    def resolve(self, directory: str) -> Session:
        """The active session at or above ``directory``.

        Raises:
            NoActiveSession: nothing is active there (``field="dir"``, ``dir``).
            StorageError: the database cannot be read.
        """
        with self._reading():
            found, moved = locate(self.conn, directory)
        if found is None:
            raise no_session_error(directory, moved)
        return found

    def plan(self, sid: str) -> Plan:
        """The whole plan of ``sid`` (session, goal, every task), one snapshot.

        Raises:
            InvalidArgument: no session has that id (``field="sid"``).
            StorageError: the database cannot be read.
        """
        with self._reading():
            session, goal = self._head(sid)
            return Plan(session, goal, self._all_tasks(sid))

    def plan_preview(self, sid: str, limit: int = PREVIEW_LIMIT) -> Plan:
        """The plan as an agent should see it: whole when short; for a long plan only the
        tasks ``preview_ids`` picks, with counts of all. Reads O(shown) rows in full.

        Raises:
            InvalidArgument: no session has that id (``field="sid"``).
            StorageError: the database cannot be read.
        """
        with self._reading():
            session, goal = self._head(sid)
            tasks = self._all_tasks(sid, limit=limit + 1)
            if len(tasks) <= limit:
                return Plan(session, goal, tasks)
            index = [
                (r[0], rows.STATUS[r[1]])
                for r in self.conn.execute(
                    "SELECT id, status FROM tasks WHERE sid = ? ORDER BY created_seq", (sid,)
                )
            ]
            shown = preview_ids(index, limit) or set()
            counts = count_statuses(status for _, status in index)
            picked = tasks_by_id(self.conn, sid, shown).values()
            return Plan(session, goal, tuple(sorted(picked, key=lambda t: t.created_seq)), counts)

    def _head(self, sid: str) -> tuple[Session, Goal | None]:
        """The session and its goal, in one query."""
        row = self.conn.execute(
            f"SELECT {rows.SESSION_COLS}, g.title, g.description, g.updated_at "
            "FROM sessions s LEFT JOIN goals g USING (sid) WHERE s.sid = ?",
            (sid,),
        ).fetchone()
        if row is None:
            load_session(self.conn, sid)  # raises the "no such session" error
        return rows.session(row), rows.goal(row[6:]) if row[6] is not None else None

    def _all_tasks(self, sid: str, limit: int = -1) -> tuple[Task, ...]:
        return tuple(
            rows.task(r)
            for r in self.conn.execute(
                f"SELECT {rows.TASK_COLS} FROM tasks WHERE sid = ? ORDER BY created_seq LIMIT ?",
                (sid, limit),
            )
        )

    def tasks(self, sid: str, statuses: Iterable[Status] = ()) -> list[Task]:
        """The tasks of ``sid`` in creation order, only those in ``statuses`` if given.
        An unknown ``sid`` has no tasks.

        Raises:
            StorageError: the database cannot be read.
        """
        wanted = [str(s) for s in statuses]
        sql = f"SELECT {rows.TASK_COLS} FROM tasks WHERE sid = ?"
        if wanted:
            sql += f" AND status IN ({','.join('?' * len(wanted))})"
        sql += " ORDER BY created_seq"
        with self._reading():
            return [rows.task(r) for r in self.conn.execute(sql, (sid, *wanted))]

    def events(
        self,
        sid: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Event]:
        """Events of ``sid`` with ``seq > after_seq``, oldest first (or newest first), at
        most ``limit`` of them. An unknown ``sid`` has no events.

        Raises:
            StorageError: the database cannot be read.
        """
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT {rows.EVENT_COLS} FROM events WHERE sid = ? AND seq > ? "
            f"ORDER BY seq {order} LIMIT ?"
        )
        with self._reading():
            return [
                rows.event(r)
                for r in self.conn.execute(sql, (sid, after_seq, -1 if limit is None else limit))
            ]

    def sessions(self, state: str = "active", limit: int | None = None) -> list[Session]:
        """Sessions, most recently updated first; ``state`` is active, archived or all.

        Raises:
            InvalidArgument: another ``state`` (``field="state"``, ``value``, ``allowed``).
            StorageError: the database cannot be read.
        """
        where = {"active": "state = 'active'", "archived": "state = 'archived'", "all": "1"}
        if state not in where:
            raise InvalidArgument(
                "The state must be one of active, archived or all.",
                field="state",
                value=str(state)[:40],
                allowed=list(where),
            )
        sql = (
            f"SELECT {rows.SESSION_COLS} FROM sessions WHERE {where[state]} "
            "ORDER BY last_updated_at DESC, sid DESC LIMIT ?"
        )
        with self._reading():
            return [
                rows.session(r) for r in self.conn.execute(sql, (-1 if limit is None else limit,))
            ]


__all__ = ["Store"]
