"""The SQLite engine: one file per machine, ``BEGIN IMMEDIATE`` for every unit of work.

:class:`SqliteDatabase` is one open file (created 0600 in 0700 folders, migrated forward on
open); when the path comes to name another file (a restore under a running server), it
moves over to it before the next read or write (:func:`store.sqlite.conn.reopen_if_replaced`).
Reads are deferred transactions and never take the write lock.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from ..clock import Clock, utc_now
from ..engine import Database, Options, Row, Statement, register
from ..errors import StorageBusy, StorageError
from ..paths import db_location, file_identity
from ..unit import UnitOfWork
from .conn import (
    connect,
    file_removed,
    mapped_errors,
    read_transaction,
    reopen_if_replaced,
    write_transaction,
)
from .schema import ensure_schema

if TYPE_CHECKING:  # not on the CLI's import path
    from ..feed import Feed
    from ..ops.results import BackupResult, Report

# The longest a read waits for the write lock to mark a notice seen, in seconds; when the
# lock is busy longer, the notice is reported unmarked and shown again next time.
LOOK_LOCK_WAIT = 0.1


class SqliteDatabase:
    """An open np database file. One connection, used from one thread at a time."""

    name = "sqlite"
    scope = ""  # one machine: sessions need no scope

    def __init__(self, path: str, options: Options) -> None:
        self.location = path
        self.clock: Clock = options.clock or utc_now
        self._timeout = options.timeout
        self._create = options.create
        try:
            self.conn = self._open(exclusive=False)
        except StorageError as exc:
            if not (options.read_when_full and exc.data.get("cause") == "full"):
                raise
            # The disk is too full for WAL's -shm file: read with the index in memory.
            self.conn = self._open(exclusive=True)
        self._identity = file_identity(path)

    def _open(self, *, exclusive: bool) -> sqlite3.Connection:
        try:
            conn = connect(
                self.location, timeout=self._timeout, exclusive=exclusive, create=self._create
            )
        except StorageError as exc:
            if not self._create and exc.data.get("cause") == "missing":
                raise file_removed(self.location) from None
            raise
        try:
            with mapped_errors(self.location):
                ensure_schema(conn, self.location)
        except BaseException:
            conn.close()
            raise
        return conn

    def _same_file(self) -> None:
        """Before each read and write: if the path now names another file (a restore under
        a running server or monitor), move over to it, so nothing is written into a file
        nobody will read again."""
        moved = reopen_if_replaced(self.conn, self.location, self._identity, self._timeout)
        if moved is None:
            return
        self.conn, self._identity = moved
        with mapped_errors(self.location):
            ensure_schema(self.conn, self.location)

    def reading(
        self, prefetch: Sequence[Statement] = ()
    ) -> contextlib.AbstractContextManager[None]:
        """One read snapshot (a deferred transaction: never the write lock); statements
        are in-process, so nothing is sent in advance."""
        self._same_file()
        return read_transaction(self.conn, self.location)

    def single(self) -> contextlib.AbstractContextManager[None]:
        return self.reading()

    @contextlib.contextmanager
    def marking(self) -> Iterator[None]:
        with (
            write_transaction(self.conn, self.location, timeout=LOOK_LOCK_WAIT),
            mapped_errors(self.location),
        ):
            yield

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
        # read_back: in-process reads cost no round trip; they run after the commit; and a
        # unit reads under the write lock, never from what an earlier one left (reruns).
        self._same_file()
        unit = UnitOfWork(
            self.conn, self.clock, cmd, actor, integrity_errors=(sqlite3.IntegrityError,)
        )
        with (
            write_transaction(self.conn, self.location, on_lock_wait),
            mapped_errors(self.location),
        ):
            if file_identity(self.location) != self._identity:  # replaced this very moment
                raise StorageBusy(
                    "The database file was replaced just now; nothing was written. Try again.",
                    field="db",
                    path=self.location,
                    cause="replaced",
                )
            yield unit

    def dump(self, queries: Sequence[str]) -> list[list[Row]]:
        with self.reading():
            return [[tuple(r) for r in self.conn.execute(sql)] for sql in queries]

    def load(self, inserts: Sequence[tuple[str, Sequence[Row]]]) -> None:
        with write_transaction(self.conn, self.location), mapped_errors(self.location):
            for sql, data in inserts:
                if data:
                    self.conn.executemany(sql, data)

    def close(self) -> None:
        self.conn.close()

    def __repr__(self) -> str:
        return f"<SqliteDatabase {self.location}>"


class SqliteEngine:
    name = "sqlite"

    def open(self, location: str, options: Options) -> Database:
        return SqliteDatabase(db_location(location), options)

    def open_feed(self, location: str, *, from_start: bool, timeout: float | None) -> Feed:
        from .feed import DataVersionFeed

        return DataVersionFeed(location, from_start=from_start, timeout=timeout)

    def migrate(self, location: str) -> tuple[list[str], int]:
        from .schema import SCHEMA_VERSION, applied

        before = applied(location)
        SqliteDatabase(db_location(location), Options()).close()
        after = applied(location)
        return [n for n in after if n not in before], SCHEMA_VERSION

    def diagnose(self, location: str, *, lock_timeout: float | None) -> Report:
        from .doctor import diagnose

        return diagnose(location, lock_timeout=lock_timeout)

    def backup(self, location: str, dest: str, *, timeout: float | None) -> BackupResult:
        from .backup import backup

        return backup(location, dest, timeout=timeout)

    def consistency_problems(self, location: str) -> list[str]:
        from .probes import consistency_problems, open_existing

        with contextlib.closing(open_existing(location)) as conn:
            return consistency_problems(conn)


ENGINE = register(SqliteEngine())

__all__ = ["ENGINE", "SqliteDatabase", "SqliteEngine"]
