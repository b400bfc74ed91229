"""The SQLite change feed: ``PRAGMA data_version``, then the events appended since.

``DataVersionFeed`` keeps its own connection and polls ``PRAGMA data_version``, which
changes only when another connection commits. That check costs a few microseconds and reads
no pages, so polling every 100 ms keeps an idle process near 0 % CPU. When it changes, the
feed reads the events appended since it last looked (by their global rowid, which grows in
commit order) and reports one :class:`~store.feed.Change` per session touched.
"""

from __future__ import annotations

import sqlite3

from ..feed import Change
from ..paths import file_identity
from ..types import EventType
from .conn import connect, mapped_errors, reopen_if_replaced


class DataVersionFeed:
    """A :class:`~store.feed.Feed` over one SQLite file (nothing to wait on: poll it)."""

    connections = 1

    def __init__(
        self, path: str, *, from_start: bool = False, timeout: float | None = None
    ) -> None:
        """``timeout``: the longest a poll may wait if SQLite answers busy (rare for a WAL
        reader), in seconds; default ``NP_BUSY_TIMEOUT``. A poll that would wait longer
        raises ``StorageBusy``."""
        self.path = path
        self.conn: sqlite3.Connection = connect(path, timeout=timeout)
        self._identity = file_identity(path)
        with mapped_errors(path):
            self._version = self._data_version()
            self.last_id = 0 if from_start else self._max_id()

    def close(self) -> None:
        self.conn.close()

    def fileno(self) -> int | None:
        return None

    def _data_version(self) -> int:
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def _max_id(self) -> int:
        try:
            row = self.conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
        except sqlite3.OperationalError:  # no schema yet
            return 0
        return int(row[0])

    def poll(self) -> list[Change]:
        """Changes committed since the last poll, one per session (its newest event).

        When the path names another file than before (a restore under a running watcher),
        the feed moves over to it and reports every active session of the new file."""
        moved = reopen_if_replaced(self.conn, self.path, self._identity, None)
        if moved is not None:
            self.conn, self._identity = moved
            with mapped_errors(self.path):
                self._version = self._data_version()
                self.last_id = self._max_id()
                return [
                    Change(row[0], row[1], row[2], EventType(row[3]))
                    for row in self.conn.execute(
                        "SELECT s.sid, s.dir, e.seq, e.type FROM sessions s JOIN events e "
                        "ON e.sid = s.sid AND e.seq = (SELECT max(seq) FROM events "
                        "WHERE sid = s.sid) WHERE s.state = 'active' ORDER BY e.id"
                    )
                ]
        with mapped_errors(self.path):
            version = self._data_version()
            if version == self._version:
                return []
            self._version = version
            latest: dict[str, Change] = {}
            last_id = self.last_id
            for row in self.conn.execute(
                "SELECT e.id, e.sid, s.dir, e.seq, e.type FROM events e "
                "JOIN sessions s ON s.sid = e.sid WHERE e.id > ? ORDER BY e.id",
                (self.last_id,),
            ):
                last_id = row[0]
                latest.pop(row[1], None)  # keep sessions in the order of their newest event
                latest[row[1]] = Change(row[1], row[2], row[3], EventType(row[4]))
            self.last_id = last_id
        return list(latest.values())


__all__ = ["DataVersionFeed"]
