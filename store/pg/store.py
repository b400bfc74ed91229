"""``PgStore``: :class:`store.store.Store` on a shared PostgreSQL database.

``Store("postgresql://…")`` makes one (``Store.__new__``); everything above the store (the
command table, the CLI, ``np serve``, ``np m``) is the same for both engines, and so is
everything a command reads or writes: the reads are ``Store``'s own, their SQL translated
by ``PgConnection``.

What differs: sessions belong to a *scope* (``$NP_SCOPE``, else this machine's host name),
so two machines' ``/builds/repo`` are two sessions; the unit's time is the server's
clock, read after the unit's lock (machines with skewed clocks agree on order); a unit
notifies watchers on every machine (``NOTIFY np_changes``) as part of its commit; and the
schema is never migrated implicitly: a database older or newer than this np is refused.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterable, Iterator
from typing import Any

from ..clock import Clock, utc_now
from ..errors import StorageError
from ..queries import AFTER_SQL
from ..store import HEAD_SQL, TASKS_SQL, Store
from ..types import PREVIEW_LIMIT, Plan, Session, Status, Task
from ..unit import Replayed, UnitOfWork
from . import schema
from .conn import NOTIFY_CHANNEL, PgConnection, connect
from .unit import PgUnitOfWork


def default_scope() -> str:
    """``$NP_SCOPE``, else this machine's host name: the scope of sessions started here.

    Raises ``InvalidArgument`` for an ``NP_SCOPE`` that is not 1 to 200 printable characters
    on one line (see :func:`store.pg.scope_from_env`)."""
    from . import scope_from_env

    return scope_from_env(os.environ.get("NP_SCOPE", ""), socket.gethostname())


class PgStore(Store):
    """An open np database on PostgreSQL. One connection, used from one thread at a time.

    Raises (when opened) ``StorageError`` if the server cannot be reached or refuses the
    login, or the database's schema is not the one this np knows (``data``:
    ``schema_version``; older: ``cause="schema_older"``, newer: ``cause="newer_schema"``).
    """

    def __init__(
        self,
        path: str,
        *,
        clock: Clock | None = None,
        timeout: float | None = None,
        **_sqlite_only: Any,  # read_when_full, on_lock_wait, create: SQLite file matters
    ) -> None:
        self.path = path
        self.commits = 0  # units of work committed through this store
        self.reopened = 0
        self.pending = []  # notices to mark seen once shown (Store.mark_seen)
        self.request = None  # the next unit's idempotency key (Store.transaction)
        self.server_time = clock is None or clock is utc_now
        self.clock = utc_now if clock is None else clock
        self.scope = default_scope()
        self._one_statement = False
        self._queue: list[tuple[str, tuple[object, ...]]] = []
        self.conn: PgConnection = connect(path, timeout=timeout)  # type: ignore[assignment]
        try:
            with self.conn.mapped_errors():
                found = schema.version(self.conn.raw)
            if found > schema.SCHEMA_VERSION:
                raise schema.newer_schema(found)
            if found < schema.SCHEMA_VERSION:
                raise schema.older_schema(found)
        except BaseException:
            self.conn.close()
            raise

    @contextlib.contextmanager
    def transaction(self, cmd: str, actor: str | None = None) -> Iterator[UnitOfWork]:
        """A unit of work for one command: all of it commits, or none of it does; watchers
        on every machine are notified in the same commit."""
        conn = self.conn
        unit: PgUnitOfWork | None = None
        request, self.request = self.request, None
        try:
            with conn.write() as server_clock:
                clock = server_clock if self.server_time else self.clock
                unit = PgUnitOfWork(conn, clock, cmd, actor, self.scope)
                if request is not None:
                    first = unit.replayed(*request)
                    if first is not None:
                        raise Replayed(first)
                yield unit
                if request is not None:
                    unit.remember(*request)
                newest: dict[str, int] = {}
                for event in unit.events:
                    newest[event.sid] = event.seq
                for sid, seq in newest.items():
                    conn.execute("SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, f"{sid} {seq}"))
        except StorageError as exc:
            # The connection broke while the COMMIT was on its way: look, on a new
            # connection, whether it landed. A committed write is never reported as failed.
            if not (exc.data.get("committing") and unit is not None and unit.events):
                raise
            if self._landed(unit.events[-1].sid, unit.events[-1].seq, unit.cmd):
                self.commits += 1
                self.pending.extend(unit.unmarked)
                return
            raise StorageError(
                exc.message.split(";")[0] + "; nothing was written; try again.",
                **{k: v for k, v in exc.data.items() if k != "committing"},
            ) from None
        self.commits += 1
        self.pending.extend(unit.unmarked)

    def _landed(self, sid: str, seq: int, cmd: str) -> bool:
        """Whether this unit's last event is in the log (checked on a fresh connection)."""
        try:
            self.conn.ensure_open()
            row = self.conn.execute(
                "SELECT cmd FROM events WHERE sid = ? AND seq = ?", (sid, seq)
            ).fetchone()
        except Exception:
            raise StorageError(
                "The connection to the database broke while committing and np could not "
                "check whether the change was saved; check before retrying.",
                field="db",
                cause="connection_lost",
            ) from None
        return row is not None and row[0] == cmd

    def _reading(self) -> contextlib.AbstractContextManager[None]:
        if self._one_statement:
            return self.conn.single()
        queue, self._queue = self._queue, []
        return self.conn.read(queue)

    @contextlib.contextmanager
    def _reading_one_statement(self) -> Iterator[None]:
        self._one_statement = True
        try:
            yield
        finally:
            self._one_statement = False

    # Reads of one statement need no transaction: one round trip each.

    def find_active(self, directory: str) -> Session | None:
        with self._reading_one_statement():
            return super().find_active(directory)

    def session(self, sid: str) -> Session:
        with self._reading_one_statement():
            return super().session(sid)

    def tasks(self, sid: str, statuses: Iterable[Status] = ()) -> list[Task]:
        with self._reading_one_statement():
            return super().tasks(sid, statuses)

    def sessions(
        self, state: str = "active", limit: int | None = None, offset: int = 0
    ) -> list[Session]:
        with self._reading_one_statement():
            return super().sessions(state, limit, offset)

    def count_sessions(self, state: str = "active") -> int:
        with self._reading_one_statement():
            return super().count_sessions(state)

    # A plan's two reads are sent together, with the BEGIN.

    def plan(self, sid: str) -> Plan:
        self._queue = [(HEAD_SQL, (sid,)), (TASKS_SQL, (sid, -1)), (AFTER_SQL, (sid,))]
        return super().plan(sid)

    def plan_preview(self, sid: str, limit: int = PREVIEW_LIMIT) -> Plan:
        self._queue = [(HEAD_SQL, (sid,)), (TASKS_SQL, (sid, limit + 1)), (AFTER_SQL, (sid,))]
        return super().plan_preview(sid, limit)

    @contextlib.contextmanager
    def _marking(self) -> Iterator[None]:
        with self.conn.write():
            yield

    def close(self) -> None:
        self.conn.close()

    def __repr__(self) -> str:
        from .url import label

        return f"<PgStore {label(self.path)} scope={self.scope!r}>"


__all__ = ["PgStore", "default_scope"]
