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
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .. import rows
from ..engine import Known
from ..paths import dir_key
from ..queries import search_paths
from .conn import PgConnection, Result, ServerClock

SESSION_LOCK = "np:sessions "  # + scope: pg_advisory_xact_lock(hashtext(…))
PREFETCH_TASKS = 200  # sessions with at most this many tasks are read whole, ahead
# Fails the write it is sent with (invalid_text_representation, with this text) when its
# condition holds: how a write that must not apply is refused in the same round trip.
CONFLICT_TEXT = "np: write conflict"
# Refusals in a row after which a unit takes its session's lock with its reads (see above).
OPTIMISTIC_TRIES = 3


def nearest_sql(count: int) -> str:
    """SQL giving the sid of the active session nearest a folder whose search keys are
    ``count`` parameters (given twice for the sessions, twice for the joins, each after
    the scope): a session at a folder before one that joined at the same folder, as
    :func:`store.queries.locate` finds it by path."""
    marks = ",".join("?" * count)
    return (
        "(SELECT sid FROM ("
        f"SELECT s.sid, array_position(ARRAY[{marks}]::text[], s.dir) * 2 AS pos "
        f"FROM sessions s WHERE s.state = 'active' AND s.scope = ? AND s.dir IN ({marks}) "
        f"UNION ALL SELECT j.sid, array_position(ARRAY[{marks}]::text[], j.dir) * 2 + 1 "
        "FROM joins j JOIN sessions s ON s.sid = j.sid "
        f"WHERE j.scope = ? AND s.state = 'active' AND j.dir IN ({marks})"
        ") n ORDER BY pos LIMIT 1)"
    )


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
    ) -> None:
        self._conn = conn
        self._scope = scope
        self._actor = actor
        self._clock = clock
        # Inside a write transaction: the session row is locked by the read that finds it.
        self._lock = " FOR UPDATE" if lock else ""

    def now(self) -> datetime | None:
        return self._clock() if self._clock is not None else None

    def session(self, *, directory: str | None = None, sid: str | None = None) -> Known | None:
        if directory is not None:
            keys = [dir_key(p) for p in search_paths(directory)]
            key = nearest_sql(len(keys))
            params: tuple[str, ...] = (*keys, self._scope, *keys, *keys, self._scope, *keys)
        else:
            assert sid is not None
            key, params = "?", (sid,)
        return self._read(key, params)

    def _read(self, key: str, params: tuple[str, ...]) -> Known | None:
        """Every read about the session ``key`` selects, sent together; one round trip."""
        pg = self._conn
        with pg.batch():
            found = pg.execute(
                f"SELECT {rows.SESSION_COLS} FROM sessions WHERE sid = {key}{self._lock}",
                params,
            )
            seq = pg.execute(
                f"SELECT coalesce(max(seq), 0) + 1 FROM events WHERE sid = {key}", params
            )
            goal = pg.execute(f"SELECT {rows.GOAL_COLS} FROM goals WHERE sid = {key}", params)
            seen: Result | None = None
            if self._actor is not None:
                seen = pg.execute(
                    f"SELECT seq FROM seen WHERE sid = {key} AND actor = ?",
                    (*params, self._actor),
                )
            tasks = pg.execute(
                f"SELECT {rows.TASK_COLS} FROM tasks WHERE sid = {key} "
                f"AND (SELECT count(*) FROM tasks WHERE sid = {key}) <= {PREFETCH_TASKS}",
                (*params, *params),
            )
            count = pg.execute(f"SELECT count(*) FROM tasks WHERE sid = {key}", params)
            if self._clock is not None and not self._clock.known:
                self._clock.expect(pg.execute("SELECT clock_timestamp()"))  # after the reads
        row = found.fetchone()
        if row is None:
            return None
        goal_row = goal.fetchone()
        mark = seen.fetchone() if seen is not None else None
        listed = {t.id: t for t in (rows.task(r) for r in tasks.fetchall())}
        return Known(
            rows.session(row),
            seq.value(),
            rows.goal(goal_row) if goal_row is not None else None,
            int(mark[0]) if mark is not None else None,
            seen is not None,
            listed if count.value() <= PREFETCH_TASKS else None,
        )

    def before_start(self, scope: str) -> None:
        self._conn.queue("SELECT pg_advisory_xact_lock(hashtext(?))", (SESSION_LOCK + scope,))

    def after_start(self, scope: str, keys: Sequence[str], sid: str) -> None:
        marks = ",".join("?" * len(keys))
        self._conn.queue(
            "SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM sessions WHERE state = 'active' "
            f"AND scope = ? AND dir IN ({marks}) AND sid <> ?) THEN ? ELSE '0' END AS integer)",
            (scope, *keys, sid, CONFLICT_TEXT),
        )


__all__ = ["OPTIMISTIC_TRIES", "SESSION_LOCK", "PgReadAhead"]
