"""``Store``: the one entry point to an np database — reads, and units of work for writes."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import rows
from .clock import Clock, ensure_utc, format_time, utc_now
from .db import (
    connect,
    file_removed,
    mapped_errors,
    read_transaction,
    reopen_if_replaced,
    write_transaction,
)
from .errors import InvalidArgument, StorageBusy, StorageError
from .paths import db_location, file_identity
from .pg import is_pg_url
from .queries import (
    archived_unseen,
    find_active,
    last_seq,
    load_session,
    locate,
    look,
    mark_seen,
    no_session_error,
    overview,
    receipts,
    tasks_by_id,
    with_after,
)
from .schema import ensure_schema
from .types import (
    PREVIEW_LIMIT,
    Changes,
    Event,
    Goal,
    Plan,
    Receipt,
    Session,
    Status,
    Task,
    count_statuses,
    preview_ids,
)
from .unit import Replayed, UnitOfWork

# The longest a read waits for the write lock to mark a notice seen, in seconds; when the
# lock is busy longer, the notice is reported unmarked and shown again next time.
LOOK_LOCK_WAIT = 0.1


# Events read per page when a whole log is streamed (Store.iter_events), and the bound
# that stands for "no upper bound" in Store.events (SQLite's and PostgreSQL's largest int8).
EVENTS_PAGE = 1000
EVENTS_PAGE_END = 2**63 - 1


# The two reads of a plan (PostgreSQL sends both before it waits for either).
HEAD_SQL = (
    f"SELECT {rows.SESSION_COLS}, g.title, g.description, g.updated_at "
    "FROM sessions s LEFT JOIN goals g USING (sid) WHERE s.sid = ?"
)
TASKS_SQL = f"SELECT {rows.TASK_COLS} FROM tasks WHERE sid = ? ORDER BY created_seq LIMIT ?"


class Store:
    """An open np database. One connection, used from one thread at a time.

    Writes go through :meth:`transaction`, which yields a :class:`UnitOfWork` inside one
    ``BEGIN IMMEDIATE`` transaction. Reads use deferred transactions and never take the
    write lock.
    """

    scope = ""  # SQLite: one machine, so sessions need no scope

    def __new__(cls, path: str, **_: Any) -> Store:
        """``Store(path)`` opens SQLite; ``Store("postgresql://…")`` opens PostgreSQL (a
        :class:`store.pg.store.PgStore`, imported only then)."""
        if cls is Store and is_pg_url(path):
            from .pg import require

            require()
            from .pg.store import PgStore

            return super().__new__(PgStore)
        return super().__new__(cls)

    def __init__(
        self,
        path: str,
        *,
        clock: Clock = utc_now,
        timeout: float | None = None,
        read_when_full: bool = False,
        on_lock_wait: Callable[[bool], None] | None = None,
        create: bool = True,
    ) -> None:
        """Open (creating file 0600 and folders 0700 if needed) and migrate ``path``.

        Args:
            path: the database file, or ``":memory:"``.
            clock: returns the current time; read once per unit of work.
            timeout: the most one write waits for the write lock, in seconds, in total
                (default: ``$NP_BUSY_TIMEOUT`` or 5).
            read_when_full: when the disk is too full for SQLite's shared-memory file,
                open anyway with it in memory (locking the file until closed): for a
                short-lived process, so reads still work on a full disk.
            on_lock_wait: called with True when a write starts waiting for another
                connection's lock and with False when that wait ends; on the writing
                thread.
            create: create the file when it does not exist. False for a second connection
                of a process that already has the file open: a missing file then means it
                was removed under np (``StorageError`` with ``cause="replaced"``).

        Raises:
            StorageError: the file cannot be created, opened or migrated, is not an np
                database, or was written by a newer np.
            StorageBusy: a migration could not get the write lock.
        """
        self.path = path = db_location(path)
        self.clock = clock
        self.on_lock_wait = on_lock_wait
        self.commits = 0  # units of work committed through this Store
        self.reopened = 0  # times the file at ``path`` was found replaced and reopened
        # Notices shown in an answer being built: marked seen by mark_seen() once it is out.
        self.pending: list[Changes] = []
        # The idempotency key of the next unit of work: (actor, key, command, arguments).
        self.request: tuple[str, str, str, str] | None = None
        self._timeout = timeout
        self._create = create
        try:
            self.conn = self._open(exclusive=False)
        except StorageError as exc:
            if not (read_when_full and exc.data.get("cause") == "full"):
                raise
            # The disk is too full for WAL's -shm file: read with the index in memory.
            self.conn = self._open(exclusive=True)
        self._identity = file_identity(path)

    def _open(self, *, exclusive: bool) -> sqlite3.Connection:
        try:
            conn = connect(
                self.path, timeout=self._timeout, exclusive=exclusive, create=self._create
            )
        except StorageError as exc:
            if not self._create and exc.data.get("cause") == "missing":
                raise file_removed(self.path) from None
            raise
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
        """One read snapshot (a deferred transaction: never the write lock)."""
        self._same_file()
        return read_transaction(self.conn, self.path)

    @contextlib.contextmanager
    def _marking(self) -> Iterator[None]:
        """The short write that marks a notice seen (waits for the lock LOOK_LOCK_WAIT)."""
        with (
            write_transaction(self.conn, self.path, timeout=LOOK_LOCK_WAIT),
            mapped_errors(self.path),
        ):
            yield

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, cmd: str, actor: str | None = None) -> Iterator[UnitOfWork]:
        """A unit of work for one command: all of it commits, or none of it does.

        ``cmd`` (what invoked it) and ``actor`` (who: the agent, an editor's name) are
        recorded on every event the unit appends.

        Raises:
            StorageBusy: the write lock could not be had in time (nothing was written).
            StorageError: SQLite failed to begin or commit (nothing was written).
            NpError: whatever the unit's methods raise; the transaction rolls back.
        """
        self._same_file()
        unit = UnitOfWork(self.conn, self.clock, cmd, actor)
        request, self.request = self.request, None
        with (
            write_transaction(self.conn, self.path, self.on_lock_wait),
            mapped_errors(self.path),
        ):
            if file_identity(self.path) != self._identity:  # replaced this very moment
                raise StorageBusy(
                    "The database file was replaced just now; nothing was written. Try again.",
                    field="db",
                    path=self.path,
                    cause="replaced",
                )
            if request is not None:
                first = unit.replayed(*request)
                if first is not None:
                    raise Replayed(first)
            yield unit
            if request is not None:
                unit.remember(*request)
        self.commits += 1
        self.pending.extend(unit.unmarked)

    def look(self, sid: str, actor: str, *, defer: bool = False) -> Changes:
        """What other actors changed in ``sid`` since ``actor`` last looked (read without a
        lock), then marked seen so a notice is shown once. With ``defer``, nothing is marked
        here: the notice waits in :attr:`pending` until :meth:`mark_seen`, called once the
        output carrying it was produced, so an answer that fails after this read leaves it
        for the next one. When the database cannot be written (read-only, busy), the
        changes are reported without being marked, and shown again next time.

        Raises:
            StorageError: the database cannot be read.
        """
        with self._reading():
            changes = look(self.conn, sid, actor, mark=False)
        if changes.upto:
            self.pending.append(changes)
            if not defer:
                self.mark_seen()
        return changes

    def mark_seen(self) -> None:
        """Mark the notices in :attr:`pending` seen (their output was produced), in one
        short write that waits for the lock at most ``LOOK_LOCK_WAIT``; when the database
        cannot be written (busy, read-only) they are shown again next time."""
        todo, self.pending = [c for c in self.pending if c.upto and c.actor], []
        if not todo:
            return
        now = format_time(ensure_utc(self.clock()))  # the receipts' time
        try:
            with self._marking():
                for changes in todo:
                    mark_seen(self.conn, changes.sid, changes.actor, changes.upto, now)
        except (StorageBusy, StorageError):
            pass

    # -- reads ------------------------------------------------------------------------------

    def find_active(self, directory: str) -> Session | None:
        """The nearest active session at ``directory`` or above, else ``None``.

        Raises:
            StorageError: the database cannot be read.
        """
        with self._reading():
            return find_active(self.conn, directory, self.scope)

    def session(self, sid: str) -> Session:
        """The session ``sid``, active or archived.

        Raises:
            InvalidArgument: no session has that id (``field="sid"``).
            StorageError: the database cannot be read.
        """
        with self._reading():
            return load_session(self.conn, sid)

    def resolve(self, directory: str, actor: str | None = None) -> Session:
        """The active session at or above ``directory``.

        Raises:
            NoActiveSession: nothing is active there (``field="dir"``, ``dir``; with
                ``archived`` when another actor archived the session ``actor`` worked on,
                see :func:`~store.queries.archived_unseen`).
            StorageError: the database cannot be read.
        """
        with self._reading():
            found, moved = locate(self.conn, directory, self.scope)
            archived = (
                archived_unseen(self.conn, directory, actor, self.scope) if found is None else None
            )
        if found is None:
            raise no_session_error(directory, moved, archived)
        return found

    def plan(self, sid: str) -> Plan:
        """The whole plan of ``sid`` (session, goal, every task), one snapshot.

        Raises:
            InvalidArgument: no session has that id (``field="sid"``).
            StorageError: the database cannot be read.
        """
        with self._reading():
            session, goal = self._head(sid)
            return Plan(session, goal, with_after(self.conn, sid, self._all_tasks(sid)))

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
                return Plan(session, goal, with_after(self.conn, sid, tasks))
            index = [
                (r[0], rows.STATUS[r[1]])
                for r in self.conn.execute(
                    "SELECT id, status FROM tasks WHERE sid = ? ORDER BY created_seq", (sid,)
                )
            ]
            shown = preview_ids(index, limit) or set()
            counts = count_statuses(status for _, status in index)
            picked = tasks_by_id(self.conn, sid, shown).values()
            ordered = sorted(picked, key=lambda t: t.created_seq)
            return Plan(session, goal, with_after(self.conn, sid, ordered), counts)

    def _head(self, sid: str) -> tuple[Session, Goal | None]:
        """The session and its goal, in one query."""
        row = self.conn.execute(
            HEAD_SQL,
            (sid,),
        ).fetchone()
        if row is None:
            load_session(self.conn, sid)  # raises the "no such session" error
        return rows.session(row), rows.goal(row[7:]) if row[7] is not None else None

    def _all_tasks(self, sid: str, limit: int = -1) -> tuple[Task, ...]:
        return tuple(
            rows.task(r)
            for r in self.conn.execute(
                TASKS_SQL,
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
            found = [rows.task(r) for r in self.conn.execute(sql, (sid, *wanted))]
            return list(with_after(self.conn, sid, found))

    def events(
        self,
        sid: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
        before_seq: int | None = None,
    ) -> list[Event]:
        """Events of ``sid`` with ``after_seq < seq < before_seq``, oldest first (or newest
        first), at most ``limit`` of them. An unknown ``sid`` has no events.

        Raises:
            StorageError: the database cannot be read.
        """
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT {rows.EVENT_COLS} FROM events WHERE sid = ? AND seq > ? AND seq < ? "
            f"ORDER BY seq {order} LIMIT ?"
        )
        below = EVENTS_PAGE_END if before_seq is None else before_seq
        with self._reading():
            return [
                rows.event(r)
                for r in self.conn.execute(
                    sql, (sid, after_seq, below, -1 if limit is None else limit)
                )
            ]

    def iter_events(
        self,
        sid: str,
        *,
        after_seq: int = 0,
        upto: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        page: int = EVENTS_PAGE,
    ) -> Iterator[Event]:
        """The events of :meth:`events` (``after_seq < seq <= upto``), read ``page`` at a
        time, so memory stays flat however long the log is: each page is its own short
        read (no snapshot is held while the caller writes), and the log being append-only
        and gapless, ``upto`` (default: the last event now) makes the pages one consistent
        history. Works alike on every engine (it is :meth:`events` in pages).

        Raises:
            StorageError: the database cannot be read (also part-way).
        """
        top = self.last_seq(sid) if upto is None else upto
        left = -1 if limit is None else limit
        if newest_first:
            below = top + 1
            while left:
                size = page if left < 0 else min(page, left)
                found = self.events(
                    sid, after_seq=after_seq, before_seq=below, limit=size, newest_first=True
                )
                yield from found
                if len(found) < size:
                    return
                below = found[-1].seq
                left -= len(found) if left > 0 else 0
            return
        after = after_seq
        while left:
            size = page if left < 0 else min(page, left)
            found = self.events(sid, after_seq=after, before_seq=top + 1, limit=size)
            yield from found
            if len(found) < size:
                return
            after = found[-1].seq
            left -= len(found) if left > 0 else 0

    def receipts(self, sid: str, events: Iterable[Event]) -> dict[int, list[Receipt]]:
        """For each of ``events`` of ``sid`` (by seq): which other actors working on that
        plan have seen it and when (:func:`store.queries.receipts`). One read.

        Raises:
            StorageError: the database cannot be read.
        """
        wanted = list(events)
        if not wanted:
            return {}
        with self._reading():
            return receipts(self.conn, sid, wanted)

    def open_asks(self, sid: str | None = None) -> list[tuple[Session, Task]]:
        """The open questions of ``sid``, or of every active session (``None``): each
        session with one task holding one, oldest question first.

        Raises:
            StorageError: the database cannot be read.
        """
        cols = ", ".join(f"s.{c}" for c in rows.SESSION_COLS.split(", "))
        tcols = ", ".join(f"t.{c}" for c in rows.TASK_COLS.split(", "))
        sql = (
            f"SELECT {cols}, {tcols} FROM tasks t JOIN sessions s ON s.sid = t.sid "
            "WHERE t.ask IS NOT NULL AND "
        )
        args: tuple[Any, ...] = ()
        if sid is None:
            sql += "s.state = 'active'"
        else:
            sql += "s.sid = ?"
            args = (sid,)
        width = len(rows.SESSION_COLS.split(", "))
        with self._reading():
            found = [
                (rows.session(r[:width]), rows.task(r[width:]))
                for r in self.conn.execute(sql, args)
            ]
        return sorted(found, key=lambda st: (st[1].ask.at if st[1].ask else "", st[1].id))

    def started_facts(self, sid: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The git facts recorded when each of the tasks ``ids`` last moved to in progress
        (its newest ``task_status_changed`` to in progress carrying ``git``); tasks never
        started with facts are left out.

        Raises:
            StorageError: the database cannot be read.
        """
        out: dict[str, dict[str, Any]] = {}
        with self._reading():
            for task_id in dict.fromkeys(ids):
                for (payload,) in self.conn.execute(
                    "SELECT payload FROM events WHERE sid = ? AND type = 'task_status_changed' "
                    "AND CAST(payload AS TEXT) LIKE ? ORDER BY seq DESC",
                    (sid, f'%"task_id":"{task_id}"%"status_after":"in_progress"%'),
                ):
                    data = json.loads(payload) if isinstance(payload, str) else payload
                    if data.get("task_id") == task_id and isinstance(data.get("git"), dict):
                        out[task_id] = data["git"]
                        break
        return out

    def last_seq(self, sid: str) -> int:
        """The seq of the newest event of ``sid``: the log is gapless, so also the number of
        its events (0 for an unknown ``sid``).

        Raises:
            StorageError: the database cannot be read.
        """
        with self._reading():
            return last_seq(self.conn, sid)

    def sessions(
        self, state: str = "active", limit: int | None = None, offset: int = 0
    ) -> list[Session]:
        """Sessions, most recently updated first; ``state`` is active, archived or all;
        the first ``offset`` of them skipped.

        Raises:
            InvalidArgument: another ``state`` (``field="state"``, ``value``, ``allowed``).
            StorageError: the database cannot be read.
        """
        where = {"active": "state = 'active'", "archived": "state = 'archived'", "all": "1 = 1"}
        if state not in where:
            raise InvalidArgument(
                "The state must be one of active, archived or all.",
                field="state",
                value=str(state)[:40],
                allowed=list(where),
            )
        sql = (
            f"SELECT {rows.SESSION_COLS} FROM sessions WHERE {where[state]} "
            "ORDER BY last_updated_at DESC, sid DESC LIMIT ? OFFSET ?"
        )
        with self._reading():
            return [
                rows.session(r)
                for r in self.conn.execute(sql, (-1 if limit is None else limit, offset))
            ]

    def count_sessions(self, state: str = "active") -> int:
        """How many sessions are in ``state`` (active, archived or all).

        Raises:
            StorageError: the database cannot be read.
        """
        where = {"active": "state = 'active'", "archived": "state = 'archived'"}.get(state, "1 = 1")
        with self._reading():
            return int(
                self.conn.execute(f"SELECT count(*) FROM sessions WHERE {where}").fetchone()[0]
            )

    def goal_titles(self, sids: list[str]) -> dict[str, str]:
        """The goal title of each of ``sids`` that has a goal (``np ls``), in one snapshot.

        Raises:
            StorageError: the database cannot be read.
        """
        found: dict[str, str] = {}
        with self._reading():
            for n in range(0, len(sids), 500):  # bound the statement's parameters
                chunk = sids[n : n + 500]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT sid, title FROM goals WHERE sid IN ({marks})"
                found.update((sid, title) for sid, title in self.conn.execute(sql, chunk))
        return found

    def overview(self, sids: list[str]) -> dict[str, dict[str, Any]]:
        """Each session's goal title, task counts by status, number of events and actors
        (:func:`store.queries.overview`), one snapshot.

        Raises:
            StorageError: the database cannot be read.
        """
        with self._reading():
            return overview(self.conn, sids)


__all__ = ["Store"]
