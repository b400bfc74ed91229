"""Noticing commits from any process or machine: one mechanism for the server and the monitor.

:func:`open_feed` gives the engine's :class:`Feed` for a database: on SQLite it polls
``PRAGMA data_version`` (``store.sqlite.feed``); on PostgreSQL it listens for the
notification every unit of work sends with its commit (``store.postgres.feed``). Both
report one :class:`Change` per session touched since the last poll.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from .types import EventType

POLL_INTERVAL = 0.1  # seconds between polls of a feed that has nothing to wake on


@attrs.frozen
class Change:
    """One committed change to one session, as seen by a watcher (any process). Defined
    here, not in ``store.types``: only watchers need it, and the CLI never imports them."""

    sid: str
    dir: str
    seq: int
    type: EventType


class Feed(Protocol):
    """What a watcher polls. ``fileno`` is a socket that becomes readable when something
    may have changed (``None``: nothing to wait on, poll every :data:`POLL_INTERVAL`);
    ``connections`` counts how often the feed (re)connected, so a waiter knows when the
    socket changed."""

    def poll(self) -> list[Change]:
        """Changes committed since the last poll, one per session (its newest event).

        Raises:
            StorageError: the database cannot be read (a feed reconnects first).
            StorageBusy: a poll would wait past the busy timeout.
        """
        ...

    def fileno(self) -> int | None: ...

    @property
    def connections(self) -> int: ...

    def close(self) -> None: ...


def open_feed(location: str, *, from_start: bool = False, timeout: float | None = None) -> Feed:
    """The change feed of the database at ``location`` (a path or a URL); ``from_start``
    reports every session's history on the first poll, else the feed starts at now.

    Raises:
        StorageError: the database cannot be opened, or its driver is missing.
    """
    from .engine import engine_for
    from .paths import db_location

    location = db_location(location)
    return engine_for(location).open_feed(location, from_start=from_start, timeout=timeout)


__all__ = ["POLL_INTERVAL", "Change", "Feed", "open_feed"]
