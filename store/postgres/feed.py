"""Noticing commits from any machine on PostgreSQL: LISTEN/NOTIFY plus a cursor per session.

Every unit of work that appends events sends ``NOTIFY np_changes, '<sid> <seq>'`` just
before its ``COMMIT``: PostgreSQL delivers it only if the unit commits, in commit order.
The notification is only a hint. What a watcher reports comes from reading, per session,
the events after its own cursor (``seq > cursor[sid]``): ``events.id`` is *not* in commit
order on PostgreSQL, so a feed that followed ids would miss commits.

Two connections: one only listens (queries on a listening connection can swallow
notifications), the other reads. After a broken connection the feed reconnects, listens
*first*, then compares every session's newest ``seq`` with its cursors: nothing committed
while it was away is missed (notifications are not queued for absent listeners).
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg

from ..feed import Change
from ..types import EventType
from .conn import NOTIFY_CHANNEL, PgConnection, connect


class NotifyFeed:
    """A :class:`store.feed.Feed` on PostgreSQL (LISTEN/NOTIFY, a cursor per session).

    ``from_start=True`` reports every session's history on the first poll; otherwise the
    feed starts at "now". :meth:`fileno` is the listening socket, for event loops that
    want to wake as soon as a notification arrives instead of polling.
    """

    def __init__(self, url: str, *, from_start: bool = False, timeout: float | None = None) -> None:
        self.url = url
        self.cursors: dict[str, int] = {}
        self.connections = 0  # how many times the feed has connected (its socket changes)
        self._listen: PgConnection | None = None
        self._reader: PgConnection | None = None
        self._pending: dict[str, None] = {}  # sids to read, in notification order
        self._resync = True
        self._connect()
        if from_start:
            self.cursors = {}
        else:
            self.cursors = self._newest()
            self._resync = False

    # -- connections ----------------------------------------------------------------------

    def _connect(self) -> None:
        self.close()
        listen = connect(self.url, application="np-watch")
        try:
            with listen.mapped_errors():
                listen.raw.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self._reader = connect(self.url, application="np-watch")
        except BaseException:
            listen.close()
            raise
        self._listen = listen
        self.connections += 1
        self._resync = True

    def close(self) -> None:
        for conn in (self._listen, self._reader):
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
        self._listen = self._reader = None

    def fileno(self) -> int:
        """The listening connection's socket: readable when a notification may be waiting."""
        assert self._listen is not None
        return self._listen.raw.fileno()

    # -- reading ----------------------------------------------------------------------------

    def _newest(self) -> dict[str, int]:
        """Every session's newest seq (index-only: ``UNIQUE (sid, seq)``)."""
        assert self._reader is not None
        with self._reader.mapped_errors():
            return {
                str(sid): int(seq)
                for sid, seq in self._reader.raw.execute(
                    "SELECT sid, max(seq) FROM events GROUP BY sid"
                )
            }

    def _drain(self) -> None:
        """Collect pending notifications without blocking (no round trip)."""
        assert self._listen is not None
        pgconn = self._listen.raw.pgconn
        pgconn.consume_input()
        while (note := pgconn.notifies()) is not None:
            sid = note.extra.decode("utf-8", "replace").partition(" ")[0]
            self._pending.pop(sid, None)
            self._pending[sid] = None

    def poll(self) -> list[Change]:
        """Changes committed since the last poll: one per session (its newest event), in
        the order the sessions last changed. Reconnects (and resyncs) after a broken
        connection; raises ``StorageError`` only if the server stays unreachable."""
        try:
            return self._poll()
        except (psycopg.OperationalError, psycopg.InterfaceError):
            self._connect()
            return self._poll()

    def _poll(self) -> list[Change]:
        if self._listen is None or self._listen.closed:
            self._connect()
        self._drain()
        if self._resync:
            # Listening already: anything that commits from here on is also notified.
            newest = self._newest()
            for sid, seq in newest.items():
                if seq > self.cursors.get(sid, 0):
                    self._pending.setdefault(sid, None)
            self._resync = False
        if not self._pending:
            return []
        wanted = list(self._pending)
        self._pending = {}
        return self._read(wanted)

    def _read(self, sids: list[str]) -> list[Change]:
        assert self._reader is not None
        after = [self.cursors.get(sid, 0) for sid in sids]
        newest: dict[str, tuple[Any, ...]] = {}
        with self._reader.mapped_errors():
            for row in self._reader.raw.execute(
                "SELECT DISTINCT ON (e.sid) e.sid, s.dir, e.seq, e.type "
                "FROM unnest(%s::text[], %s::bigint[]) AS c(sid, after) "
                "JOIN events e ON e.sid = c.sid AND e.seq > c.after "
                "JOIN sessions s ON s.sid = e.sid "
                "ORDER BY e.sid, e.seq DESC",
                (sids, after),
            ):
                newest[row[0]] = row
        changes: list[Change] = []
        for sid in sids:  # notification order: the session that changed last comes last
            row = newest.get(sid)
            if row is None:
                continue  # a hint for nothing new (or another database's np): harmless
            self.cursors[sid] = int(row[2])
            changes.append(Change(sid, row[1], int(row[2]), EventType(row[3])))
        return changes
