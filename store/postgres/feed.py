"""Noticing commits from any machine on PostgreSQL: LISTEN/NOTIFY plus a cursor per session.

Every unit of work that appends events sends ``NOTIFY np_changes, '<sid> <seq> <type>
<dir>'`` (its session's newest event, :func:`payload`) just before its ``COMMIT``:
PostgreSQL delivers it only if the unit commits, in commit order. So the notification *is*
the change: the feed reports it without reading (``np m`` then refreshes in one round
trip). A notification that says less (``'<sid> <seq>'``: an older np, or a folder too long
for a payload) is a hint: the feed reads, per session, the events after its own cursor
(``seq > cursor[sid]``; ``events.id`` is *not* in commit order on PostgreSQL, so a feed
that followed ids would miss commits).

Two connections: one only listens (queries on a listening connection can swallow
notifications), the other reads. After a broken connection the feed reconnects, listens
*first*, then compares every session's newest ``seq`` with its cursors: nothing committed
while it was away is missed (notifications are not queued for absent listeners).
"""

from __future__ import annotations

import contextlib

import psycopg

from ..engine import Row
from ..feed import Change
from ..types import EventType
from .conn import NOTIFY_CHANNEL, PgConnection, connect

PAYLOAD_LIMIT = 7900  # bytes: PostgreSQL refuses a notification payload of 8000 or more
_TYPES = {str(t): t for t in EventType}


def payload(sid: str, seq: int, type: EventType, directory: str) -> str:
    """The notification of a commit whose newest event in ``sid`` is ``seq`` (of ``type``)
    in a session at ``directory``; only ``'<sid> <seq>'`` when that would be too long."""
    whole = f"{sid} {seq} {type} {directory}"
    return whole if len(whole.encode("utf-8")) < PAYLOAD_LIMIT else f"{sid} {seq}"


def _change(text: str) -> tuple[str, Change | None]:
    """The session a notification names, and the change it says (None: it only hints)."""
    sid, seq, kind, directory = [*text.split(" ", 3), "", "", ""][:4]
    known = _TYPES.get(kind)
    if known is None or not seq.isdigit() or not directory:
        return sid, None
    return sid, Change(sid, directory, int(seq), known)


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
        # Sessions changed, in notification order: the change told (None: to be read).
        self._pending: dict[str, Change | None] = {}
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
            sid, change = _change(note.extra.decode("utf-8", "replace"))
            self._pending.pop(sid, None)
            self._pending[sid] = change

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
        pending, self._pending = self._pending, {}
        read = {c.sid: c for c in self._read([s for s, told in pending.items() if told is None])}
        changes: list[Change] = []
        for sid, told in pending.items():  # notification order: the last changed comes last
            change = read.get(sid) if told is None else told
            if change is None or change.seq <= self.cursors.get(sid, 0):
                continue  # a hint for nothing new (or another database's np): harmless
            self.cursors[sid] = change.seq
            changes.append(change)
        return changes

    def _read(self, sids: list[str]) -> list[Change]:
        """Each session's newest event after its cursor (one statement)."""
        if not sids:
            return []
        assert self._reader is not None
        after = [self.cursors.get(sid, 0) for sid in sids]
        newest: dict[str, Row] = {}
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
        return [Change(row[0], row[1], int(row[2]), EventType(row[3])) for row in newest.values()]
