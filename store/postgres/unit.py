"""The unit of work on PostgreSQL: one round trip to read, one to write, no lock between.

The unit of work is the core's (:class:`store.unit.UnitOfWork`), the same on every engine;
PostgreSQL gives it a :class:`PgReadAhead` (composition, through the
:class:`store.engine.ReadAhead` protocol) and runs it in :meth:`PgConnection.unit`:

- **Read, without a lock.** The first thing a command asks about its session (by folder
  or by id) brings, in one round trip, everything a unit reads about it: the session, the
  seq its next event takes, its goal, what the actor had seen and its tasks (when there are
  at most :data:`PREFETCH_TASKS`; a bigger session reads the tasks a command names), with
  the server's clock after them. Nothing is locked, and no ``COMMIT`` is waited for.
- **Decide, then write in one round trip.** The unit's writes are held back and sent
  together: ``BEGIN``, the updates and inserts, the event append, the ``NOTIFY``, the
  plan the door reads back and the ``COMMIT``. The session's row lock is held only while
  the server executes them, never while a packet is in flight.
- **Optimistic, and retried.** Every change appends an event at the seq read ahead; when
  another writer appended one in between, the append fails (the gapless trigger or the
  unique ``(sid, seq)``), the whole write rolls back and the command runs again
  (:class:`store.errors.WriteConflict`). Starting a session is serialised per scope
  (``pg_advisory_xact_lock``) and refused in the same flight when another session became
  active at or above the folder; a reused idempotency key meets the key's primary key.
- **Locked after a few refusals.** Under a steady stream of writes to one session a unit
  could be overtaken again and again. After :data:`OPTIMISTIC_TRIES` refusals in a row
  (:class:`store.postgres.engine.PgDatabase` counts them) the next run takes the session's
  row lock with its reads (``BEGIN`` + ``SELECT … FOR UPDATE`` + the reads, then the writes
  and ``COMMIT``: two round trips, the lock held across one, bounded by the server's
  ``idle_in_transaction_session_timeout``). Nothing else appends to a session without its
  row lock, so that run is not overtaken: every writer finishes.
- **Time** is the server's clock, read after the unit's reads: a unit whose reads were
  overtaken is retried, so times never go back within a session.
- **One round trip on a kept connection** (``np serve``, ``np mcp``: :class:`ReadCache`).
  A unit's commit flight also reads its session again, after its writes: the session, the
  next seq, the goal, what the actor has seen, the tasks and the server's clock, exactly
  as that commit left them. The next unit of the same actor on that session (found by the
  same folder, or by id) starts from those rows instead of reading: it decides at once and
  sends one flight, whose first statement is a *condition*: the folder's nearest active
  session is still that one, its newest seq is still the one kept, and the actor's seen
  mark is still the one kept (every change to a session appends an event to it, so the
  seq stands for everything else kept; joins and starts that change which plan a folder
  finds are in the nearest-session check; seen marks are the one write without an event).
  When another machine wrote in between, the condition (or the gapless seq behind it)
  refuses the whole flight: :class:`~store.errors.WriteConflict`, the command runs again
  with fresh reads, and nothing decided on stale rows is ever written. A unit that ends
  without writing (an error it met, a no-op) sends the same condition, or asks it on its
  own when it has nothing to send, before its answer is believed. Its time is the kept
  server time plus the monotonic time since, never before the session's newest event.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from .. import rows
from ..engine import Known, Statement
from ..paths import dir_key
from ..queries import nearest_sid, search_paths
from .conn import PgConnection, Result, ServerClock

SESSION_LOCK = "np:sessions "  # + scope: pg_advisory_xact_lock(hashtext(…))
PREFETCH_TASKS = 200  # sessions with at most this many tasks are read whole, ahead
# Fails the write it is sent with (invalid_text_representation, with this text) when its
# condition holds: how a write that must not apply is refused in the same round trip.
CONFLICT_TEXT = "np: write conflict"
# Refusals in a row after which a unit takes its session's lock with its reads (see above).
OPTIMISTIC_TRIES = 3


def session_reads(
    key: str, params: tuple[object, ...], actor: str | None, lock: str = ""
) -> list[Statement]:
    """Every read a unit makes about the session ``key`` selects (see :func:`known_from`)."""
    reads: list[Statement] = [
        (f"SELECT {rows.SESSION_COLS} FROM sessions WHERE sid = {key}{lock}", params),
        (f"SELECT coalesce(max(seq), 0) + 1 FROM events WHERE sid = {key}", params),
        (f"SELECT {rows.GOAL_COLS} FROM goals WHERE sid = {key}", params),
        (
            f"SELECT {rows.TASK_COLS} FROM tasks WHERE sid = {key} "
            f"AND (SELECT count(*) FROM tasks WHERE sid = {key}) <= {PREFETCH_TASKS}",
            (*params, *params),
        ),
        (f"SELECT count(*) FROM tasks WHERE sid = {key}", params),
    ]
    if actor is not None:
        reads.append((f"SELECT seq FROM seen WHERE sid = {key} AND actor = ?", (*params, actor)))
    return reads


def known_from(results: Sequence[Result], actor: str | None) -> Known | None:
    """What the :func:`session_reads` found (None: no such session)."""
    found, seq, goal, tasks, count = results[:5]
    row = found.fetchone()
    if row is None:
        return None
    goal_row = goal.fetchone()
    mark = results[5].fetchone() if actor is not None else None
    listed = {t.id: t for t in (rows.task(r) for r in tasks.fetchall())}
    return Known(
        rows.session(row),
        seq.value(),
        rows.goal(goal_row) if goal_row is not None else None,
        int(mark[0]) if mark is not None else None,
        actor is not None,
        listed if count.value() <= PREFETCH_TASKS else None,
    )


@attrs.define
class Kept:
    """A session as a unit's commit left it, for the same actor's next unit (ReadCache)."""

    known: Known
    keys: tuple[str, ...] | None  # the folder's search keys it was found by (None: by id)
    clock: datetime  # the server's clock in that commit's flight
    ticks: float  # time.monotonic() when that flight's answer came back
    newest: datetime  # the time of the session's newest event

    def now(self) -> datetime:
        """The server's time now, estimated: never before the session's newest event."""
        since = max(0.0, time.monotonic() - self.ticks)
        return max(self.clock + timedelta(seconds=since), self.newest)

    def condition(self, scope: str, actor: str | None) -> tuple[str, tuple[object, ...]]:
        """A boolean SQL expression (and its parameters): true while what is kept is still
        what the database holds (see the module's docstring)."""
        sid, known = self.known.session.sid, self.known
        parts = ["(SELECT coalesce(max(seq), 0) FROM events WHERE sid = ?) = ?"]
        params: list[object] = [sid, known.next_seq - 1]
        if actor is not None:
            parts.append("coalesce((SELECT seq FROM seen WHERE sid = ? AND actor = ?), -1) = ?")
            params += [sid, actor, -1 if known.seen is None else known.seen]
        if self.keys is not None:
            nearest, values = nearest_sid(self.keys, scope)
            parts.append(f"coalesce({nearest}, '') = ?")
            params += [*values, sid]
        return " AND ".join(parts), tuple(params)


class ReadCache:
    """What the last units on one connection left their sessions as, by actor: the reads
    the next unit of a long-lived door skips (see the module's docstring). Used from the
    connection's thread only; forgotten on any refusal or error."""

    LIMIT = 64  # sessions × actors kept; beyond, everything is forgotten

    def __init__(self) -> None:
        self._by_sid: dict[tuple[str, str | None], Kept] = {}
        self._by_keys: dict[tuple[tuple[str, ...], str | None], str] = {}

    def find(
        self, actor: str | None, *, keys: tuple[str, ...] | None = None, sid: str | None = None
    ) -> Kept | None:
        if keys is not None:
            sid = self._by_keys.get((keys, actor))
        kept = self._by_sid.get((sid, actor)) if sid is not None else None
        if kept is None:
            return None
        return attrs.evolve(kept, keys=keys)

    def put(self, actor: str | None, kept: Kept) -> None:
        if len(self._by_sid) >= self.LIMIT:
            self.clear()
        sid = kept.known.session.sid
        for key in [k for k in self._by_sid if k[0] == sid]:  # another actor's: stale now
            del self._by_sid[key]
        self._by_sid[(sid, actor)] = kept
        if kept.keys is not None:
            self._by_keys[(kept.keys, actor)] = sid

    def clear(self) -> None:
        self._by_sid.clear()
        self._by_keys.clear()


class PgReadAhead:
    """The :class:`store.engine.ReadAhead` of one unit of work on PostgreSQL."""

    def __init__(
        self,
        conn: PgConnection,
        scope: str,
        actor: str | None,
        clock: ServerClock | None,
        *,
        lock: bool = False,
        cache: ReadCache | None = None,
        keys_later: bool = False,
    ) -> None:
        self._conn = conn
        self._scope = scope
        self._actor = actor
        self._clock = clock
        # Inside a write transaction: the session row is locked by the read that finds it.
        self._lock = " FOR UPDATE" if lock else ""
        self._cache = cache
        # The folders' search keys each session was found by (for the cache).
        self.found: dict[str, tuple[str, ...]] = {}
        # What this unit took from the cache instead of reading: its answer stands only
        # while :meth:`Kept.condition` holds (checked with its writes, or on its own).
        self.served: list[Kept] = []
        self._keys_later = keys_later
        # The idempotency key this unit did not read (key_later): its answer stands only
        # while the key is unused.
        self.key: tuple[str, str] | None = None

    def key_later(self, actor: str, key: str) -> bool:
        if self._keys_later:
            self.key = (actor, key)
        return self._keys_later

    def now(self) -> datetime | None:
        return self._clock() if self._clock is not None else None

    def session(self, *, directory: str | None = None, sid: str | None = None) -> Known | None:
        keys: tuple[str, ...] | None = None
        if directory is not None:
            keys = tuple(dir_key(p) for p in search_paths(directory))
            key, params = nearest_sid(keys, self._scope)
        else:
            assert sid is not None
            key, params = "?", (sid,)
        if self._cache is not None:
            kept = self._cache.find(self._actor, keys=keys, sid=sid)
            if kept is not None:
                return self._serve(kept)
        known = self._read(key, params)
        if known is not None and keys is not None:
            self.found[known.session.sid] = keys
        return known

    def _serve(self, kept: Kept) -> Known:
        """The kept session for this unit, on the condition that it is still true."""
        self.served.append(kept)
        expr, params = kept.condition(self._scope, self._actor)
        self._conn.queue(
            f"SELECT CAST(CASE WHEN {expr} THEN '0' ELSE ? END AS integer)",
            (*params, CONFLICT_TEXT),
        )
        if self._clock is not None:
            self._clock.set(kept.now())
        known = kept.known
        tasks = dict(known.tasks) if known.tasks is not None else None
        return attrs.evolve(known, tasks=tasks, fresh=True)

    @property
    def unchecked(self) -> bool:
        """Whether this unit decided on something it did not read (see :meth:`still_true`)."""
        return bool(self.served) or self.key is not None

    def still_true(self) -> bool:
        """Whether what this unit took from the cache is still what the database holds, and
        the key it did not read is unused (one round trip; asked when the unit met an
        error, so never sent its conditions)."""
        conditions = [kept.condition(self._scope, self._actor) for kept in self.served]
        if self.key is not None:
            conditions.append(
                ("NOT EXISTS (SELECT 1 FROM requests WHERE actor = ? AND key = ?)", self.key)
            )
        expr = " AND ".join(f"({sql})" for sql, _ in conditions)
        params = tuple(p for _, values in conditions for p in values)
        with self._conn.single():
            row = self._conn.execute(
                f"SELECT CASE WHEN {expr} THEN 1 ELSE 0 END", params
            ).fetchone()
        return row is not None and row[0] == 1

    def keep(self, sid: str) -> list[Result]:
        """Queue, with the unit's writes, the reads that give what its commit leaves
        ``sid`` as (:meth:`kept`), and the server's clock."""
        return self._conn.keep(
            [
                *session_reads("?", (sid,), self._actor),
                (
                    "SELECT clock_timestamp(), "
                    "(SELECT at FROM events WHERE sid = ? ORDER BY seq DESC LIMIT 1)",
                    (sid,),
                ),
            ]
        )

    def kept(self, sid: str, results: Sequence[Result]) -> Kept | None:
        """What :meth:`keep` read, once the unit committed (None: nothing to keep)."""
        if not results:
            return None
        known = known_from(results[:-1], self._actor)
        clock = results[-1].fetchone()
        if known is None or clock is None or not known.session.active:
            return None
        keys = self.found.get(sid)
        if keys is None:
            keys = next((k.keys for k in self.served if k.known.session.sid == sid), None)
        newest = datetime.fromisoformat(clock[1]) if clock[1] else clock[0]
        return Kept(known, keys, clock[0], time.monotonic(), newest)

    def _read(self, key: str, params: tuple[object, ...]) -> Known | None:
        """Every read about the session ``key`` selects, sent together; one round trip."""
        pg = self._conn
        with pg.batch():
            results = [
                pg.execute(sql, values)
                for sql, values in session_reads(key, params, self._actor, self._lock)
            ]
            if self._clock is not None and not self._clock.known:
                self._clock.expect(pg.execute("SELECT clock_timestamp()"))  # after the reads
        return known_from(results, self._actor)

    def before_start(self, scope: str) -> None:
        self._conn.queue("SELECT pg_advisory_xact_lock(hashtext(?))", (SESSION_LOCK + scope,))

    def after_start(self, scope: str, keys: Sequence[str], sid: str) -> None:
        marks = ",".join("?" * len(keys))
        self._conn.queue(
            "SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM sessions WHERE state = 'active' "
            f"AND scope = ? AND dir IN ({marks}) AND sid <> ?) THEN ? ELSE '0' END AS integer)",
            (scope, *keys, sid, CONFLICT_TEXT),
        )


__all__ = ["OPTIMISTIC_TRIES", "SESSION_LOCK", "PgReadAhead", "ReadCache"]
