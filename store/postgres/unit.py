"""The unit of work on PostgreSQL: np's logic unchanged, its round trips under the lock cut.

:class:`PgUnitOfWork` is :class:`store.unit.UnitOfWork` with differences that are all about
locking and round trips (the SQL itself goes through ``PgConnection``'s dialect helper):

- **Lock before you read.** A unit finds its session as on SQLite (by path, then by the
  folder's identity: one round trip, no lock), then touches it: ``UPDATE sessions SET
  last_updated_at = … RETURNING …``. The row lock serialises the units of one session
  (sessions do not serialise each other) and the row returned is the latest committed one.
  Queued right behind it, so that at READ COMMITTED they run once the lock is held and see
  every earlier commit: the next ``seq``, the goal, what the actor has seen, and the
  session's tasks (when there are at most :data:`PREFETCH_TASKS`; a bigger session reads
  the tasks a command names, as on SQLite). All of that is one round trip; the inserts and
  updates, the ``NOTIFY`` and the ``COMMIT`` are the next. The lock is held for about one
  round trip.
- **Starting a session takes a lock** (``pg_advisory_xact_lock`` per scope) before it
  looks for an active session at or above the directory: without it a parent and a child
  directory could both start one (the partial unique index covers only one directory).
- **Time** is the server's clock, read once per unit right after its lock (in the same
  statement, so it costs no round trip): skewed client clocks cannot reorder sessions, and
  a unit that waited for another is stamped after it. A test may still inject a clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from psycopg import errors as pg_errors

from .. import rows
from ..clock import Clock, ensure_utc, format_time
from ..paths import dir_key
from ..queries import load_session, mark_seen, no_session_error, search_paths
from ..types import Changes, Goal, NewTask, Session, StatusChange, Task
from ..unit import UnitOfWork
from .conn import PgConnection, ServerClock

SESSION_LOCK = "np:sessions "  # + scope: pg_advisory_xact_lock(hashtext(…))
PREFETCH_TASKS = 200  # sessions with at most this many tasks are read whole with the lock
# The server's time as np's RFC 3339 text (what clock.format_time makes of it). In an
# UPDATE that waited for the row lock it is taken after the wait (PostgreSQL re-evaluates
# the new row), so a unit is never stamped before the unit it waited for.
SQL_NOW = "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"


class PgUnitOfWork(UnitOfWork):
    def __init__(
        self, conn: PgConnection, clock: Clock, cmd: str, actor: str | None, scope: str
    ) -> None:
        super().__init__(conn, clock, cmd, actor, scope, (pg_errors.IntegrityError,))
        self._pg = conn
        self._tasks: dict[str, dict[str, Task]] = {}  # whole task lists read with the lock
        self._goals: dict[str, Goal | None] = {}
        self._seen: dict[str, int | None] = {}  # what this unit's actor had seen, per sid

    def now(self) -> str:
        """The unit's time. With the server's clock, read right after the unit's lock, it
        cannot go back within a session, so the base class's look at the newest event (a
        round trip under the lock, and ``events.id`` is not commit order here) is skipped."""
        if self._now is None and isinstance(self._clock, ServerClock):
            self._now = ensure_utc(self._clock())
            self._now_text = format_time(self._now)
        return super().now()

    # -- the lock and what is read with it ------------------------------------------------

    def _lock(self, params: Sequence[Any], key: str) -> tuple[Any, ...] | None:
        """Touch the session ``where`` selects and queue the reads behind the lock; one
        round trip. ``key`` is SQL giving the session's sid (used by the queued reads)."""
        pg = self._pg
        stamp: tuple[str, ...] = ()
        clock = self._clock if isinstance(self._clock, ServerClock) else None
        if clock is not None and not clock.known:
            stamp_sql = SQL_NOW  # the unit's time is read with the lock
        else:
            stamp_sql, stamp = "?", (self.now(),)
        touched = pg.execute(
            f"UPDATE sessions SET last_updated_at = {stamp_sql} WHERE sid = {key} "
            f"RETURNING {rows.SESSION_COLS}",
            (*stamp, *params),
        )
        seq = pg.execute(
            f"SELECT coalesce(max(seq), 0) + 1 FROM events WHERE sid = {key}", tuple(params)
        )
        goal = pg.execute(f"SELECT {rows.GOAL_COLS} FROM goals WHERE sid = {key}", tuple(params))
        seen = (
            pg.execute(
                f"SELECT seq FROM seen WHERE sid = {key} AND actor = ?", (*params, self.actor)
            )
            if self.actor is not None
            else None
        )
        count = pg.execute(f"SELECT count(*) FROM tasks WHERE sid = {key}", tuple(params))
        tasks = pg.execute(
            f"SELECT {rows.TASK_COLS} FROM tasks WHERE sid = {key} "
            f"AND (SELECT count(*) FROM tasks WHERE sid = {key}) <= {PREFETCH_TASKS}",
            (*params, *params),
        )
        row = touched.fetchone()
        if row is None:
            return None
        if clock is not None and stamp_sql == SQL_NOW:
            clock.set(datetime.fromisoformat(str(row[4]).replace("Z", "+00:00")))
        sid = str(row[0])
        self._next_seq.setdefault(sid, int(seq.fetchone()[0]))  # type: ignore[index]
        found = goal.fetchone()
        self._goals[sid] = rows.goal(found) if found is not None else None
        if seen is not None:
            mark = seen.fetchone()
            self._seen[sid] = int(mark[0]) if mark is not None else None
        total = int(count.fetchone()[0])  # type: ignore[index]
        if total <= PREFETCH_TASKS:
            self._tasks[sid] = {r[0]: rows.task(r) for r in tasks.fetchall()}
        else:
            tasks.fetchall()
        return tuple(row)

    def _forget(self, sid: str) -> None:
        """After a write: what the lock brought is no longer the truth for ``sid``."""
        self._tasks.pop(sid, None)
        self._goals.pop(sid, None)

    def _locked(self, row: tuple[Any, ...]) -> Session:
        session = rows.session(row)
        self._sessions[session.sid] = session
        self._touched.add(session.sid)
        return session

    def active_for(self, directory: str) -> Session:
        # One round trip in the usual case: find the nearest session by path (as
        # queries.locate does first) inside the statement that locks it. When no path
        # matches, locate() looks further (the folder's identity, a moved folder) and the
        # session found is then locked: the same answers as SQLite.
        keys = [dir_key(p) for p in search_paths(directory)]
        marks = ",".join("?" * len(keys))
        nearest = (
            "(SELECT sid FROM sessions WHERE state = 'active' AND scope = ? "
            f"AND dir IN ({marks}) ORDER BY array_position(ARRAY[{marks}]::text[], dir) LIMIT 1)"
        )
        row = self._lock((self.scope, *keys, *keys), nearest)
        if row is None:
            session = super().active_for(directory)  # raises when there is none
            row = self._lock((session.sid,), "?")
            if row is None:
                raise no_session_error(directory)
        locked = self._locked(row)
        if not locked.active:  # archived between the search and the lock
            raise no_session_error(directory)
        return locked

    def touch_at(self, sid: str, at: datetime | None = None) -> Session:
        if at is not None or sid in self._touched:
            return super().touch_at(sid, at)
        row = self._lock((sid,), "?")
        if row is None:
            load_session(self._conn, sid)  # raises "no session with that id"
            raise AssertionError("unreachable")
        return self._locked(row)

    # -- reads served from what the lock brought ----------------------------------------------

    def goal(self, sid: str) -> Goal | None:
        if sid in self._goals:
            return self._goals[sid]
        return super().goal(sid)

    def _taken_ids(self, sid: str) -> set[str]:
        if sid in self._tasks:
            return set(self._tasks[sid])
        return super()._taken_ids(sid)

    def _task_rows(self, sid: str, ids: Sequence[str]) -> dict[str, Task]:
        listed = self._tasks.get(sid)
        if listed is None:
            return super()._task_rows(sid, ids)
        found = {i: listed[i] for i in ids if i in listed}
        if len(found) < len(set(ids)):
            return super()._task_rows(sid, ids)  # raises task_not_found with the ids
        return found

    def look(self, sid: str) -> Changes:
        """As :meth:`UnitOfWork.look`, without a round trip in the usual case: what the
        actor had seen was read with the lock, so when nobody else wrote since, marking
        it seen is one queued statement; only others' changes are read (one round trip)."""
        if self.actor is None or sid not in self._seen:
            return super().look(sid)
        seen = self._seen[sid]
        own = [e.seq for e in self.events if e.sid == sid]
        top = self._next_seq.get(sid, 1) - 1  # the newest seq, this unit's events included
        before = min(own) - 1 if own else top  # the newest seq before this unit's events
        if seen is not None and seen < before:
            return super().look(sid)  # others changed something: read it
        if seen is None or seen < top:
            mark_seen(self._pg, sid, self.actor, top, self.now())
            self._seen[sid] = top
        return Changes()

    def _seen_position(self, sid: str) -> int | None:
        if sid in self._seen:
            return self._seen[sid]
        return super()._seen_position(sid)

    def replayed(self, actor: str, key: str, command: str, args: str) -> dict[str, Any] | None:
        # Two retries with one key at once: the second waits for the first's commit.
        self._pg.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (f"np:key {actor} {key}",))
        return super().replayed(actor, key, command, args)

    def set_after(self, sid: str, task_id: str, after: Sequence[str], reason: str | None) -> Task:
        try:
            return super().set_after(sid, task_id, after, reason)
        finally:
            self._forget(sid)

    def next_task(self, sid: str) -> tuple[Task | None, str, list[dict[str, Any]]]:
        try:
            return super().next_task(sid)
        finally:
            self._forget(sid)

    # -- writes: the base logic, then forget the reads they made stale -----------------------

    def set_goal(self, sid: str, title: str, description: str) -> Goal:
        try:
            return super().set_goal(sid, title, description)
        finally:
            self._forget(sid)

    def change_goal(
        self, sid: str, title: str | None, description: str | None, reason: str | None
    ) -> Goal:
        try:
            return super().change_goal(sid, title, description, reason)
        finally:
            self._forget(sid)

    def add_tasks(self, sid: str, items: Sequence[NewTask]) -> list[Task]:
        try:
            return super().add_tasks(sid, items)
        finally:
            self._forget(sid)

    def edit_task(
        self,
        sid: str,
        task_id: str,
        title: str | None,
        description: str | None,
        reason: str | None,
    ) -> Task:
        try:
            return super().edit_task(sid, task_id, title, description, reason)
        finally:
            self._forget(sid)

    def set_statuses(
        self,
        sid: str,
        changes: Sequence[StatusChange],
        evidence: Mapping[str, dict[str, Any]] | None = None,
    ) -> list[Task]:
        try:
            return super().set_statuses(sid, changes, evidence)
        finally:
            self._forget(sid)

    def ask(self, sid: str, task_id: str, question: str, choices: Sequence[str] = ()) -> Task:
        try:
            return super().ask(sid, task_id, question, choices)
        finally:
            self._forget(sid)

    def withdraw_ask(self, sid: str, task_id: str) -> Task:
        try:
            return super().withdraw_ask(sid, task_id)
        finally:
            self._forget(sid)

    def answer_ask(self, sid: str, task_id: str, answer: str) -> Task:
        try:
            return super().answer_ask(sid, task_id, answer)
        finally:
            self._forget(sid)

    def _time_after_lock(self) -> None:
        """Queue a read of the server's clock (behind a lock queued just before)."""
        if isinstance(self._clock, ServerClock) and not self._clock.known:
            self._clock.expect(self._pg.execute("SELECT clock_timestamp()"))

    def start_session(self, directory: str) -> Session:
        # Queued: the search for an active session at or above runs once the lock is held.
        self._pg.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (SESSION_LOCK + self.scope,))
        self._time_after_lock()
        return super().start_session(directory)

    def archive(self, sid: str) -> Session:
        # Lock the row (without touching it: archiving an archived session changes nothing),
        # then read the session and the time behind the lock.
        self._pg.execute("SELECT 1 FROM sessions WHERE sid = ? FOR UPDATE", (sid,))
        self._time_after_lock()
        if sid not in self._touched:
            self._sessions.pop(sid, None)
        try:
            return super().archive(sid)
        finally:
            self._forget(sid)
