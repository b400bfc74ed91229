"""How a long-running door (``np serve``, ``np mcp``) runs commands: writes and reads each on
a thread and a connection of their own.

* Writes run one after another on the write thread, in the order they were received.
* Reads run on the read thread. A read waits for the writes this door received before it
  (a client that pipelines a write and then a read reads what it wrote) unless the running
  write is itself waiting for another process's lock: then the read answers at once from
  the last committed state. SQLite's WAL readers take no lock, so no read ever queues
  behind a lock held elsewhere.
* A job can be withdrawn (``$/cancelRequest``) only while it has not started: a started
  unit of work runs to its end and its result is sent, so a client's retry never doubles it.
* A job that committed and then failed (building its result) raises :class:`SavedButFailed`,
  so the door says the change was saved instead of reporting a failure.

Door-neutral (asyncio and the store only); each door maps the outcomes to its protocol.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from store import StorageError, Store
from store.errors import committed_into_damage

log = logging.getLogger("np.runner")
T = TypeVar("T")


class SavedButFailed(Exception):
    """A job committed its unit of work, then failed (``cause``: building the result)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


# What a JSON door's user does about a change committed into a damaged file.
DAMAGE_WAY_OUT = (
    "stop every np program, check the file with the doctor, restore the last good backup by "
    "moving it over the file (never copying it), then make the change again."
)


class Withdrawn(Exception):
    """The job was withdrawn before it started: nothing was written."""


class Runner:
    """Runs ``fn(store)`` jobs for one door process on a database at ``db_path``.

    The stores are opened lazily, each on the thread that uses it, so a bad database is an
    error per request, not a door that fails to start; a later request tries again. Use
    from one event loop; :meth:`close` from outside it once the loop is done.
    """

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="np-write")
        self.reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="np-read")
        self._stores: dict[bool, Store] = {}  # by "writes"; each used on its own thread only
        self._jobs: dict[Any, concurrent.futures.Future[Any]] = {}  # request key -> its job
        self._writes: list[asyncio.Future[Any]] = []  # writes received and not yet done
        self._write_blocked = False  # the running write waits for another process's lock
        self._writes_moved: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def jobs(self) -> int:
        """How many jobs with a key are queued or running."""
        return len(self._jobs)

    def pending(self) -> list[Any]:
        """The keys of the jobs queued or running."""
        return list(self._jobs)

    async def run(
        self,
        writes: bool,
        fn: Callable[[Store], T],
        *,
        key: Any = None,
        withdrawn: Callable[[], bool] | None = None,
    ) -> T:
        """Run ``fn(store)`` on the write or the read thread and return its result.

        ``key`` (a request id) lets :meth:`withdraw` find the job; ``withdrawn()`` is asked
        once, right before the job is queued (a cancel that came first).

        Raises:
            Withdrawn: withdrawn before it started (nothing was written).
            SavedButFailed: it committed, then failed.
            Exception: whatever ``fn`` raised (then nothing was written).
        """
        self._loop = asyncio.get_running_loop()
        if not writes:
            await self._after_own_writes()
        if withdrawn is not None and withdrawn():
            raise Withdrawn

        def work() -> T:
            store = self._open(writes)
            for attempt in (1, 2):
                before = store.commits
                try:
                    return fn(store)
                except Exception as exc:
                    if store.commits != before:
                        if isinstance(exc, StorageError) and exc.damaged:
                            # never "saved" into a damaged file
                            raise committed_into_damage(exc, DAMAGE_WAY_OUT) from exc
                        raise SavedButFailed(exc) from exc
                    if attempt == 2 or not getattr(exc, "retry_safe", False):
                        raise
                    # The connection was found dead before any COMMIT was sent (a database
                    # restart, an idle connection cut), or its last flight is known not to
                    # have landed: nothing was written, so run it once more on a fresh
                    # connection instead of failing the client's request. Not the command
                    # table's re-run of a WriteConflict (server.commands.table.execute, in
                    # every door, up to 10 times, on the same connection): this one is a
                    # long-lived door's, about its connection, and wraps the whole job, the
                    # answer streamed after the command returned included.
                    log.info("the database connection broke; running the request once more")
            raise AssertionError("unreachable")

        job = (self.writer if writes else self.reader).submit(work)
        waiter = asyncio.wrap_future(job)
        if writes:
            self._writes.append(waiter)
            waiter.add_done_callback(self._write_finished)
        if key is not None:
            self._jobs[key] = job
        try:
            return await asyncio.shield(waiter)
        except asyncio.CancelledError:
            if job.cancelled():
                raise Withdrawn from None
            raise
        finally:
            if key is not None and self._jobs.get(key) is job:
                del self._jobs[key]

    def withdraw(self, key: Any) -> bool | None:
        """Withdraw the job of ``key`` if it has not started. None when there is no such
        job (yet); False when it runs or ran."""
        job = self._jobs.get(key)
        if job is None:
            return None
        return job.cancel()

    def close(self) -> None:
        """Close both stores on their threads and stop the threads (waits for running jobs)."""
        for writes, pool in ((True, self.writer), (False, self.reader)):

            def close(writes: bool = writes) -> None:
                store = self._stores.pop(writes, None)
                if store is not None:
                    store.close()

            try:
                pool.submit(close).result()
            except Exception as exc:
                log.warning("closing the database: %s", exc)
            finally:
                pool.shutdown(wait=True)

    # -- internals ---------------------------------------------------------------------------

    def _open(self, writes: bool) -> Store:
        store = self._stores.get(writes)
        if store is None:
            # A read takes the write lock only to mark a notice seen (Store.look), waiting for
            # it at most store.LOOK_LOCK_WAIT. A second connection must not create the file:
            # if the first one found it and it is gone now, it was removed under the door
            # (an error, not a new, empty database).
            store = Store(
                self.db_path,
                on_lock_wait=self._lock_wait if writes else None,
                create=not self._stores,
            )
            self._stores[writes] = store
        return store

    def _lock_wait(self, waiting: bool) -> None:
        """On the write thread: a write started (True) or stopped (False) waiting for
        another process's write lock."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is gone
                self._loop.call_soon_threadsafe(self._set_write_blocked, waiting)

    def _set_write_blocked(self, waiting: bool) -> None:
        self._write_blocked = waiting
        if self._writes_moved is not None:
            self._writes_moved.set()

    def _write_finished(self, future: asyncio.Future[Any]) -> None:
        with contextlib.suppress(ValueError):
            self._writes.remove(future)
        if self._writes_moved is not None:
            self._writes_moved.set()

    async def _after_own_writes(self) -> None:
        """Wait until the writes received so far are done, unless the running one waits for
        another process's lock: a read never queues behind that."""
        ahead = list(self._writes)
        if self._writes_moved is None:
            self._writes_moved = asyncio.Event()
        while True:
            ahead = [w for w in ahead if not w.done()]
            if not ahead or self._write_blocked:
                return
            self._writes_moved.clear()
            await self._writes_moved.wait()
