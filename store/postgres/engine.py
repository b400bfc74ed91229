"""The PostgreSQL engine: :class:`PgDatabase` is one connection to a shared database.

``Store("postgresql://…")`` opens one through the registry (:func:`store.engine.engine_for`);
everything above the store (the command table, the CLI, ``np serve``, ``np m``) is the same
for both engines, and so is everything a command reads or writes: the core's portable SQL,
its placeholders converted by ``PgConnection``.

What differs: sessions belong to a *scope* (``$NP_SCOPE``, else this machine's host name),
so two machines' ``/builds/repo`` are two sessions; the unit's time is the server's
clock, read after the unit's lock (machines with skewed clocks agree on order); a unit
notifies watchers on every machine (``NOTIFY np_changes``) as part of its commit; and the
schema is never migrated implicitly: a database older or newer than this np is refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from ..clock import Clock, utc_now
from ..engine import Database, Options, Row, Statement, register
from ..errors import NpError, StorageError, WriteConflict
from ..settings import shared_scope
from ..unit import UnitOfWork
from . import schema
from .conn import (
    NOTIFY_CHANNEL,
    ConnectionLost,
    IntegrityError,
    Result,
    connect,
    placeholders,
)
from .feed import payload
from .unit import OPTIMISTIC_TRIES, PgReadAhead, ReadCache

if TYPE_CHECKING:  # not on the CLI's import path
    from ..feed import Feed
    from ..ops.results import BackupResult, Report


# How long (ms) np waits for a broken connection's server process to end before it looks
# whether that connection's last unit landed (PgDatabase._landed).
LANDED_WAIT = 5000


class PgDatabase:
    """An open np database on PostgreSQL. One connection, used from one thread at a time.

    Raises (when opened) ``StorageError`` if the server cannot be reached or refuses the
    login, or the database's schema is not the one this np knows (``data``:
    ``schema_version``; older: ``cause="schema_older"``, newer: ``cause="newer_schema"``).
    """

    name = "postgresql"

    def __init__(self, url: str, options: Options) -> None:
        self.location = url
        self.server_time = options.clock is None or options.clock is utc_now
        self.clock: Clock = options.clock or utc_now
        self.scope = shared_scope()
        # The schema is checked with the connection's first statements (no round trip of
        # its own); a database this np does not know is refused at its first use.
        self.conn = connect(url, timeout=options.timeout, check=_check_schema)
        self.conflicts = 0  # units refused in a row because another writer overtook them
        # What the last units left their sessions as: a long-lived door's next write skips
        # its reads (store.postgres.unit, "One round trip on a kept connection"). Filled
        # from the connection's second unit on: a CLI process runs one.
        self.cache = ReadCache()
        self.units = 0

    @contextlib.contextmanager
    def writing(
        self,
        cmd: str,
        actor: str | None,
        on_lock_wait: Callable[[bool], None] | None,
        read_back: Callable[[str], Sequence[Statement]],
        *,
        reruns: bool = False,
    ) -> Iterator[UnitOfWork]:
        """A unit of work: all of it commits, or none of it does; watchers on every machine
        are notified in the same commit. With ``reruns`` (the caller runs a refused unit
        again), a unit after the connection's first decides from what the one before left
        (store.postgres.unit, "One round trip on a kept connection")."""
        conn = self.conn
        unit: UnitOfWork | None = None
        ahead: PgReadAhead | None = None
        # After a few refusals in a row, the session's lock is taken with the reads: the
        # writer is not overtaken again (store.postgres.unit, "Locked after a few refusals").
        conflicts, self.conflicts = self.conflicts, 0
        locked = conflicts >= OPTIMISTIC_TRIES
        self.units += 1
        keeping = reruns and self.units > 1 and not locked
        kept: list[Result] = []
        try:
            with conn.write(conflicts=True) if locked else conn.unit() as server_clock:
                ahead = PgReadAhead(
                    conn,
                    self.scope,
                    actor,
                    server_clock if self.server_time else None,
                    lock=locked,
                    cache=self.cache if keeping else None,
                    # after a refusal the key is read: it may be why
                    keys_later=reruns and not conflicts and not locked,
                )
                unit = UnitOfWork(
                    conn,
                    self.clock,
                    cmd,
                    actor,
                    self.scope,
                    (IntegrityError,),
                    ahead=ahead,
                )
                yield unit
                newest = {event.sid: event for event in unit.events}
                for sid, event in newest.items():  # the change itself (store.postgres.feed)
                    told = payload(sid, event.seq, event.type, unit.load(sid).dir)
                    conn.queue("SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, told))
                if unit.events:  # the plan the door reads next, in the COMMIT's round trip
                    conn.stash(read_back(unit.events[-1].sid))
                    if keeping:  # and what the next unit would read, as this one leaves it
                        kept = ahead.keep(unit.events[-1].sid)
                # A unit that took rows from the cache sends their condition even when it
                # writes nothing (store.postgres.unit, "One round trip on a kept connection").
        except WriteConflict:
            self.cache.clear()
            self.conflicts = conflicts + 1
            raise
        except NpError as exc:
            self.cache.clear()
            if ahead is not None and ahead.unchecked and not isinstance(exc, StorageError):
                # An answer decided on kept rows (a task not found, a goal already set…) or
                # without reading the key stands only if they were still true.
                self._believe(ahead, conflicts)
            if not isinstance(exc, StorageError):
                raise
            self._after_storage_error(exc, unit)
            return
        except BaseException:
            self.cache.clear()
            raise
        if kept and ahead is not None and unit is not None:
            found = ahead.kept(unit.events[-1].sid, kept)
            if found is not None:
                self.cache.put(actor, found)

    def _believe(self, ahead: PgReadAhead, conflicts: int) -> None:
        """Refuse (WriteConflict: the command runs again, reading) a unit whose kept rows
        another writer changed since, or whose key was used before."""
        if not ahead.still_true():
            self.cache.clear()
            self.conflicts = conflicts + 1  # the next run reads (its key too)
            raise WriteConflict(
                "Another writer changed this plan at the same moment; nothing was written; "
                "try again.",
                field="db",
            )

    def _after_storage_error(self, exc: StorageError, unit: UnitOfWork | None) -> None:
        # The connection broke while the COMMIT was on its way: look, on a new
        # connection, whether it landed. A committed write is never reported as failed;
        # one that did not land is refused as a connection lost before it was sent (a
        # long-lived door runs it once more: server.commands.runner). A unit without
        # events wrote at most seen marks, which never move back: it may run again too.
        if not exc.data.get("committing"):
            raise exc
        last = unit.events[-1] if unit is not None and unit.events else None
        if last is not None and self._landed(last.sid, last.seq, last.cmd):
            return
        raise ConnectionLost(
            exc.message.split(";")[0] + "; nothing was written; try again.",
            **{k: v for k, v in exc.data.items() if k != "committing"},
        ) from None

    def _landed(self, sid: str, seq: int, cmd: str) -> bool:
        """Whether this unit's last event is in the log, for certain: checked on a fresh
        connection once the broken one's server process has ended (a link cut without a
        word may leave it running the flight; it is ended here, waited for at most
        :data:`LANDED_WAIT` ms, so what the log says next is final)."""
        old = self.conn.pid
        try:
            self.conn.ensure_open()
            with self.conn.single():
                ended = self.conn.execute(
                    "SELECT pg_terminate_backend(pid, ?) FROM pg_stat_activity "
                    "WHERE pid = ? AND pid <> pg_backend_pid()",
                    (LANDED_WAIT, old),
                ).fetchone()
                if ended is not None and not ended[0]:
                    raise TimeoutError("the old connection's process is still running")
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

    def reading(
        self, prefetch: Sequence[Statement] = ()
    ) -> contextlib.AbstractContextManager[None]:
        """One snapshot; the statements in ``prefetch`` are sent with its ``BEGIN``."""
        return self.conn.read(prefetch)

    def single(self) -> contextlib.AbstractContextManager[None]:
        """A read of one statement needs no transaction: one round trip."""
        return self.conn.single()

    @contextlib.contextmanager
    def marking(self) -> Iterator[None]:
        self.cache.clear()  # a seen mark moves: what the last unit left is not true now
        with self.conn.write():
            yield

    def close(self) -> None:
        self.conn.close()

    def dump(self, queries: Sequence[str]) -> list[list[Row]]:
        with self.conn.read():
            return [[tuple(r) for r in self.conn.execute(sql)] for sql in queries]

    def load(self, inserts: Sequence[tuple[str, Sequence[Row]]]) -> None:
        with self.conn.write(), self.conn.raw.cursor() as cur:
            for sql, data in inserts:
                if data:
                    cur.executemany(placeholders(sql), data)

    def __repr__(self) -> str:
        from ..url import label

        return f"<PgDatabase {label(self.location)} scope={self.scope!r}>"


def _check_schema(found: int) -> None:
    """Refuse a database whose schema is not this np's (never migrated implicitly)."""
    if found > schema.SCHEMA_VERSION:
        raise schema.newer_schema(found)
    if found < schema.SCHEMA_VERSION:
        raise schema.older_schema(found)


class PgEngine:
    name = "postgresql"

    def open(self, location: str, options: Options) -> Database:
        return PgDatabase(location, options)

    def open_feed(self, location: str, *, from_start: bool, timeout: float | None) -> Feed:
        from .feed import NotifyFeed

        return NotifyFeed(location, from_start=from_start, timeout=timeout)

    def migrate(self, location: str) -> tuple[list[str], int]:
        conn = connect(location)
        try:
            with conn.mapped_errors():
                done = schema.migrate(conn.raw)
        except StorageError as exc:
            if exc.data.get("cause") != "privilege":
                raise
            # np_app lets a role use np, not change its tables: granting it would not help.
            raise StorageError(
                "Migrating needs the owner of np's tables (or, for a new database, a role "
                "that may create tables in it); this role may not. Run np db migrate as that "
                "role; np_app is enough to use np, not to migrate it.",
                **{**exc.data, "action": "db.migrate"},
            ) from exc
        finally:
            conn.close()
        return done, schema.SCHEMA_VERSION

    def diagnose(self, location: str, *, lock_timeout: float | None) -> Report:
        from .ops import diagnose

        return diagnose(location, lock_timeout=lock_timeout)

    def backup(self, location: str, dest: str, *, timeout: float | None) -> BackupResult:
        from .ops import backup

        return backup(location, dest)

    def consistency_problems(self, location: str) -> list[str]:
        from .ops import consistency_problems

        conn = connect(location)
        try:
            with conn.mapped_errors():
                return consistency_problems(conn)
        finally:
            conn.close()


ENGINE = register(PgEngine())

__all__ = ["ENGINE", "PgDatabase", "PgEngine"]
