"""Following the store's change feed on an event loop, for the long-running doors that push
changes to their users: ``np serve`` (``np/didChange``) and ``np web`` (its live stream).

The feed (:func:`store.feed.open_feed`) is polled on the event loop's own thread: on
SQLite a ``PRAGMA data_version`` check costs microseconds and never waits for a lock (WAL);
on PostgreSQL the feed's listening socket wakes the loop as soon as a notification arrives
(about one round trip after the commit) instead of at the next poll. While the database is
unusable the feed backs off and says so once per distinct failure.

Door-neutral (asyncio and the store only).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from store import NpError, StorageBusy
from store.feed import POLL_INTERVAL, Change, Feed, open_feed

log = logging.getLogger("np.follow")

FAILING_POLL_INTERVAL = 2.0  # the feed backs off while the database is unusable
# The feed polls on the event loop's thread: a poll SQLite answers busy (rare for a WAL
# reader: another process recovering the WAL) waits this long at most, then is tried again
# at the next tick, so the loop never stops serving for a lock.
FEED_BUSY_WAIT = 0.01


class Follower:
    """Calls ``on_changes(changes)`` on the event loop for every batch of commits after
    :meth:`start` (by any process, on any machine sharing a PostgreSQL database)."""

    def __init__(self, db_path: str, on_changes: Callable[[list[Change]], None]) -> None:
        self.db_path = db_path
        self.on_changes = on_changes
        self._feed: Feed | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._watched: tuple[int, int] | None = None
        self._failing: str | None = None  # the feed's last failure, while it fails

    def start(self) -> None:
        """Take the starting point now (commits from here on are reported) and follow."""
        if self._task is not None:
            return
        try:
            self._feed = open_feed(self.db_path, timeout=FEED_BUSY_WAIT)
        except NpError:
            pass  # reported, and retried, by the loop
        self._task = asyncio.get_running_loop().create_task(self._follow())

    async def stop(self) -> None:
        """Stop following and wait until the loop has ended. The loop also ends on its own
        flag, so a cancel that lands just as a wake-up does (which Python 3.11's
        ``wait_for`` swallows, CPython gh-86296) cannot keep it, and the door that awaits
        it, running; a cancel of the caller's own is never swallowed here either."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)  # its cancel is no error
        self._follow_socket(active=False)
        if self._feed is not None:
            self._feed.close()
            self._feed = None

    def wake(self) -> None:
        self._wake.set()

    def poll_now(self) -> None:
        """Poll at once, on the loop's thread (right after this door's own commit), so its
        changes are reported in the same turn of the loop as the write's answer. While the
        feed fails, the loop's own back-off polls instead."""
        if self._task is None or self._stopping:
            return
        if self._failing is not None:
            self.wake()
            return
        self._step()

    def _poll(self) -> list[Change]:
        if self._feed is None:
            self._feed = open_feed(self.db_path, timeout=FEED_BUSY_WAIT)
        return self._feed.poll()

    def _follow_socket(self, *, active: bool) -> None:
        """Wake on the PostgreSQL feed's socket; re-registered after a reconnect (the number
        may be reused), dropped while the feed fails so a dead socket cannot spin the loop."""
        loop = asyncio.get_running_loop()
        watched: tuple[int, int] | None = None
        if active and self._feed is not None:
            try:  # (socket, which connection): a reconnect may reuse the number
                fileno = self._feed.fileno()
                if fileno is not None:
                    watched = (fileno, self._feed.connections)
            except Exception:
                watched = None
        if watched == self._watched:
            return
        if self._watched is not None:
            loop.remove_reader(self._watched[0])
        if watched is not None:
            loop.add_reader(watched[0], self.wake)
        self._watched = watched

    def _step(self) -> float:
        """Poll once and report the changes; the seconds until the next poll."""
        try:
            changes = self._poll()
        except StorageBusy:
            return POLL_INTERVAL  # SQLite answered busy: try again at the next tick
        except Exception as exc:
            self._follow_socket(active=False)
            message = exc.message if isinstance(exc, NpError) else type(exc).__name__
            if message != self._failing:  # once per distinct failure, not ten times a second
                if isinstance(exc, NpError):
                    log.warning("change feed: %s", message)
                else:
                    log.exception("change feed failed; retrying")
                self._failing = message
            return FAILING_POLL_INTERVAL
        if self._failing is not None:
            log.warning("change feed: the database is usable again")
            self._failing = None
        self._follow_socket(active=True)
        if changes:
            self.on_changes(changes)
        return POLL_INTERVAL

    async def _follow(self) -> None:
        while not self._stopping:
            interval = self._step()
            # asyncio.timeout, not wait_for: Python 3.11's wait_for returns normally when
            # the task is cancelled in the moment the event is set (CPython gh-86296).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._wake.wait()
            self._wake.clear()
