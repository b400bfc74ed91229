"""``Store``: the one entry point to an np database — reads, and units of work for writes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from . import rows
from .clock import Clock, ensure_utc, format_time, utc_now
from .engine import Conn, Database, Options, Row, engine_for
from .errors import InvalidArgument, StorageBusy, StorageError
from .queries import (
    AFTER_SQL,
    HEAD_SQL,
    NO_LIMIT,
    TASKS_SQL,
    Bound,
    Lookup,
    aggregate,
    archived_unseen,
    bind,
    find_active,
    joinable,
    last_seq,
    load_session,
    locate,
    located,
    look,
    mark_seen,
    nearest_sid,
    no_session_error,
    overview,
    plan_reads,
    preview_reads,
    seen_and_top_read,
    tasks_by_id,
    with_after,
)
from .settings import default_actor
from .types import (
    PREVIEW_LIMIT,
    Changes,
    Event,
    Goal,
    Plan,
    Session,
    Status,
    Task,
    count_statuses,
    preview_ids,
)
from .unit import Replayed, UnitOfWork

if TYPE_CHECKING:
    from .receipts import Receipt

# Events read per page when a whole log is streamed (Store.iter_events), and the bound
# that stands for "no upper bound" in Store.events (SQLite's and PostgreSQL's largest int8).
EVENTS_PAGE = 1000
EVENTS_PAGE_END = 2**63 - 1


class Store:
    """An open np database. One connection, used from one thread at a time.

    Writes go through :meth:`transaction`, which yields a :class:`UnitOfWork` inside one
    ``BEGIN IMMEDIATE`` transaction. Reads use deferred transactions and never take the
    write lock.
    """

    def __init__(
        self,
        path: str,
        *,
        clock: Clock | None = None,
        timeout: float | None = None,
        read_when_full: bool = False,
        on_lock_wait: Callable[[bool], None] | None = None,
        create: bool = True,
    ) -> None:
        """Open ``path`` (a file path, ``":memory:"`` or a ``postgresql://`` URL) with the
        engine it names (:func:`store.engine.engine_for`).

        Args:
            path: the database file, ``":memory:"``, or a PostgreSQL URL.
            clock: returns the current time; read once per unit of work (default: the
                system clock on SQLite, the server's clock on PostgreSQL).
            timeout: the most one write waits for another writer's lock, in seconds, in
                total (default: ``$NP_BUSY_TIMEOUT`` or 5).
            read_when_full: SQLite: when the disk is too full for the shared-memory file,
                open anyway with it in memory (locking the file until closed): for a
                short-lived process, so reads still work on a full disk.
            on_lock_wait: called with True when a write starts waiting for another
                connection's lock and with False when that wait ends; on the writing
                thread.
            create: SQLite: create the file when it does not exist. False for a second
                connection of a process that already has the file open: a missing file
                then means it was removed under np (``StorageError``, ``cause="replaced"``).

        Raises:
            StorageError: the database cannot be created, opened or reached, is not an np
                database, has a schema this np does not know, or its driver is missing.
            StorageBusy: a migration could not get the write lock.
        """
        self.db: Database = engine_for(path).open(
            path, Options(clock, timeout, read_when_full, on_lock_wait, create)
        )
        self._clock: Clock = clock or utc_now  # when a read's receipts are stamped
        self.path = self.db.location
        self.engine = self.db.name  # "sqlite" or "postgresql": what a door may show
        self.scope = self.db.scope  # "" on SQLite; NP_SCOPE or the host name when shared
        self.on_lock_wait = on_lock_wait
        self.commits = 0  # units of work committed through this Store
        # Entered just before a unit of work's COMMIT and left once :attr:`commits` counts
        # it: a door that turns signals into KeyboardInterrupt holds them here, so an
        # interruption never falls between a commit and its count (the door could not
        # then say the change was saved).
        self.commit_guard: Callable[[], contextlib.AbstractContextManager[object]] = (
            contextlib.nullcontext
        )
        # Notices shown in an answer being built: marked seen by mark_seen() once it is out.
        self.pending: list[Changes] = []
        # The idempotency key of the next unit of work: (actor, key, command, arguments).
        self.request: tuple[str, str, str, str] | None = None
        # How a door reads a plan back after its write (plan_preview, else plan): an engine
        # may send those reads with the unit's COMMIT, saving their round trip.
        self.read_back_preview = True
        # The caller runs a unit refused with WriteConflict again (the command table
        # does): an engine may then skip a unit's reads (Database.writing).
        self.reruns = False

    @property
    def conn(self) -> Conn:
        """The engine's connection, for the core's portable SQL (inside :meth:`_reading`)."""
        return self.db.conn

    def actor(self, name: str) -> str:
        """The default actor of an agent called ``name`` here: ``name`` on SQLite, and
        ``name@host`` on a shared database, so machines tell each other's changes apart."""
        return default_actor(self.path, name)

    def _reading(
        self, prefetch: Sequence[tuple[str, tuple[object, ...]]] = ()
    ) -> contextlib.AbstractContextManager[None]:
        """One read snapshot (never the write lock)."""
        return self.db.reading(prefetch)

    def dump(self, queries: Sequence[str]) -> list[list[Row]]:
        """Every row of each query, from one snapshot (``np db copy``)."""
        return self.db.dump(queries)

    def load(self, inserts: Sequence[tuple[str, Sequence[Row]]]) -> None:
        """Run each insert for its rows in one transaction (``np db copy``)."""
        self.db.load(inserts)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, cmd: str, actor: str | None = None) -> Iterator[UnitOfWork]:
        """A unit of work for one command: all of it commits, or none of it does.

        ``cmd`` (what invoked it) and ``actor`` (who: the agent, an editor's name) are
        recorded on every event the unit appends.

        Raises:
            StorageBusy: the write lock could not be had in time (nothing was written).
            StorageError: the database failed to begin or commit (nothing was written).
            NpError: whatever the unit's methods raise; the transaction rolls back.
        """
        request, self.request = self.request, None
        with contextlib.ExitStack() as guard:
            with self.db.writing(
                cmd, actor, self.on_lock_wait, self._read_back, reruns=self.reruns
            ) as unit:
                if request is not None:
                    first = unit.replayed(*request)
                    if first is not None:
                        raise Replayed(first)
                yield unit
                if request is not None:
                    unit.remember(*request)
                guard.enter_context(self.commit_guard())  # the COMMIT is next
            self.commits += 1
        self.pending.extend(unit.unmarked)

    def _read_back(self, sid: str) -> list[tuple[str, tuple[object, ...]]]:
        """The reads :meth:`plan_preview` (or :meth:`plan`) of ``sid`` starts with."""
        if self.read_back_preview:
            return preview_reads(sid, PREVIEW_LIMIT)
        return plan_reads(sid)

    def look(self, sid: str, actor: str, *, defer: bool = False) -> Changes:
        """What other actors changed in ``sid`` since ``actor`` last looked (read without a
        lock), then marked seen so a notice is shown once. With ``defer``, nothing is marked
        here: the notice waits in :attr:`pending` until :meth:`mark_seen`, called once the
        output carrying it was produced, so an answer that fails after this read leaves it
        for the next one. When the database cannot be written (read-only, busy), the
        changes are reported without being marked, and shown again next time.

        Raises:
            StorageError: the database cannot be read.
        """
        with self.db.single():  # no snapshot needed: one trip fewer
            changes = look(self.db.conn, sid, actor, mark=False)
        if changes.upto:
            self.pending.append(changes)
            if not defer:
                self.mark_seen()
        return changes

    def mark_seen(self) -> None:
        """Mark the notices in :attr:`pending` seen (their output was produced), in one
        short write that waits for the lock at most ``LOOK_LOCK_WAIT``; when the database
        cannot be written (busy, read-only) they are shown again next time."""
        todo, self.pending = [c for c in self.pending if c.upto and c.actor], []
        if not todo:
            return
        now = format_time(ensure_utc(self._clock()))  # the receipts' time
        try:
            with self.db.marking():
                for changes in todo:
                    mark_seen(self.db.conn, changes.sid, changes.actor, changes.upto, now)
        except (StorageBusy, StorageError):
            pass

    # -- reads ------------------------------------------------------------------------------

    def find_active(self, directory: str) -> Session | None:
        """The nearest active session at ``directory`` or above, else ``None``.

        Raises:
            StorageError: the database cannot be read.
        """
        with self.db.single():
            return find_active(self.db.conn, directory, self.scope)

    def session(self, sid: str) -> Session:
        """The session ``sid``, active or archived.

        Raises:
            InvalidArgument: no session has that id (``field="sid"``).
            StorageError: the database cannot be read.
        """
        with self.db.single():
            return load_session(self.db.conn, sid)

    def resolve(self, directory: str, actor: str | None = None) -> Session:
        """The active session at or above ``directory``.

        Raises:
            NoActiveSession: nothing is active there (``field="dir"``, ``dir``; with
                ``archived`` when another actor archived the session ``actor`` worked on,
                see :func:`~store.queries.archived_unseen`).
            StorageError: the database cannot be read.
        """
        with self.db.single():  # no snapshot needed: one trip fewer
            found, moved = locate(self.db.conn, directory, self.scope)
            archived = (
                archived_unseen(self.db.conn, directory, actor, self.scope)
                if found is None
                else None
            )
            join = joinable(self.db.conn, directory, self.scope) if found is None else None
        if found is None:
            raise no_session_error(directory, moved, archived, join)
        return found

    def plan(self, sid: str) -> Plan:
        """The whole plan of ``sid`` (session, goal, every task), one snapshot.

        Raises:
            InvalidArgument: no session has that id (``field="sid"``).
            StorageError: the database cannot be read.
        """
        with self._reading(plan_reads(sid)):
            return self._plan_in(sid)

    def plan_and_events(self, sid: str, after_seq: int) -> tuple[Plan, list[Event]]:
        """The whole plan of ``sid`` and its events after ``after_seq``, oldest first, in
        one snapshot whose statements are sent together (``np m``'s refresh: one round trip
        on PostgreSQL).

        Raises:
            InvalidArgument: no session has that id (``field="sid"``).
            StorageError: the database cannot be read.
        """
        events = (
            f"SELECT {rows.EVENT_COLS} FROM events WHERE sid = ? AND seq > ? AND seq < ? "
            "ORDER BY seq ASC",
            (sid, after_seq, EVENTS_PAGE_END),
        )
        with self._reading([*plan_reads(sid), events]):
            plan = self._plan_in(sid)
            return plan, [rows.event(r) for r in self.db.conn.execute(*events)]

    def plan_and_notice(
        self, sid: str, actor: str | None, *, preview: bool = False
    ) -> tuple[Plan, Changes]:
        """:meth:`plan` (or :meth:`plan_preview`) and the notice :meth:`look` gives
        ``actor`` (deferred: marked by :meth:`mark_seen`), in one snapshot whose first
        statements are sent together (``np p``: one round trip on PostgreSQL when nothing
        is new). Without ``actor``, no notice.

        Raises:
            InvalidArgument: no session has that id (``field="sid"``).
            StorageError: the database cannot be read.
        """
        with self._reading(_plan_and_notice_reads(sid, actor, preview)):
            found = self._plan_and_notice_in(self.db.conn, sid, actor, preview)
        assert found is not None
        return found

    def _plan_and_notice_in(
        self, conn: Conn, sid: str, actor: str | None, preview: bool
    ) -> tuple[Plan, Changes] | None:
        """The plan and notice of ``sid`` (None: the plan read is another session's)."""
        plan = self._preview_in(sid, PREVIEW_LIMIT, conn) if preview else self._plan_in(sid, conn)
        if plan.session.sid != sid:
            return None
        changes = look(conn, sid, actor, mark=False) if actor else Changes()
        if changes.upto:
            self.pending.append(changes)
        return plan, changes

    def plan_here(
        self, directory: str, actor: str | None, *, preview: bool = False
    ) -> tuple[Plan, Changes]:
        """:meth:`plan_and_notice` of the active session at or above ``directory``
        (:meth:`resolve`), in one snapshot whose statements are sent together: the
        session's lookup, and the plan and notice of "the session found here by path"
        (a subquery, :func:`~store.queries.nearest_sid`): ``np p`` in one round trip on
        PostgreSQL. A session found otherwise (by the folder's identity) is read after.

        Raises:
            NoActiveSession: as :meth:`resolve` says.
            StorageError: the database cannot be read.
        """
        lookup = Lookup(directory, self.scope)
        here = nearest_sid(lookup.keys, self.scope)
        keyed = [bind(s, HERE, here) for s in _plan_and_notice_reads(HERE, actor, preview)]
        with self._reading([lookup.statement, *keyed]):
            found, _ = located(lookup, self.db.conn.execute(*lookup.statement).fetchall())
            if found is not None and lookup.by_path:  # what the subquery found too
                reads = _plan_and_notice_reads(found.sid, actor, preview)
                conn = Bound(self.db.conn, dict(zip(reads, keyed, strict=True)))
                done = self._plan_and_notice_in(conn, found.sid, actor, preview)
                if done is not None:
                    return done
        sid = self.resolve(directory, actor).sid  # by identity; or why there is none
        return self.plan_and_notice(sid, actor, preview=preview)

    def _plan_in(self, sid: str, conn: Conn | None = None) -> Plan:
        session, goal = self._head(sid, conn)
        conn = conn or self.db.conn
        return Plan(session, goal, with_after(conn, sid, self._all_tasks(sid, conn)))

    def plan_preview(self, sid: str, limit: int = PREVIEW_LIMIT) -> Plan:
        """The plan as an agent should see it: whole when short; for a long plan only the
        tasks ``preview_ids`` picks, with counts of all. Reads O(shown) rows in full.

        Raises:
            InvalidArgument: no session has that id (``field="sid"``).
            StorageError: the database cannot be read.
        """
        with self._reading(preview_reads(sid, limit)):
            return self._preview_in(sid, limit)

    def _preview_in(self, sid: str, limit: int, conn: Conn | None = None) -> Plan:
        conn = conn or self.db.conn
        session, goal = self._head(sid, conn)
        tasks = self._all_tasks(sid, conn, limit=limit + 1)
        if len(tasks) <= limit:
            return Plan(session, goal, with_after(conn, sid, tasks))
        index = [
            (r[0], rows.STATUS[r[1]])
            for r in conn.execute(
                "SELECT id, status FROM tasks WHERE sid = ? ORDER BY created_seq", (sid,)
            )
        ]
        shown = preview_ids(index, limit) or set()
        counts = count_statuses(status for _, status in index)
        picked = tasks_by_id(conn, sid, shown).values()
        ordered = sorted(picked, key=lambda t: t.created_seq)
        return Plan(session, goal, with_after(conn, sid, ordered), counts)

    def _head(self, sid: str, conn: Conn | None = None) -> tuple[Session, Goal | None]:
        """The session and its goal, in one query."""
        conn = conn or self.db.conn
        row = conn.execute(HEAD_SQL, (sid,)).fetchone()
        if row is None:
            load_session(conn, sid)  # raises the "no such session" error
            raise AssertionError("unreachable")
        return rows.session(row), rows.goal(row[7:]) if row[7] is not None else None

    def _all_tasks(
        self, sid: str, conn: Conn | None = None, limit: int | None = None
    ) -> tuple[Task, ...]:
        conn = conn or self.db.conn
        if limit is None:
            found = conn.execute(TASKS_SQL, (sid,))
        else:
            found = conn.execute(TASKS_SQL + " LIMIT ?", (sid, limit))
        return tuple(rows.task(r) for r in found)

    def tasks(self, sid: str, statuses: Iterable[Status] = ()) -> list[Task]:
        """The tasks of ``sid`` in creation order, only those in ``statuses`` if given.
        An unknown ``sid`` has no tasks.

        Raises:
            StorageError: the database cannot be read.
        """
        wanted = [str(s) for s in statuses]
        sql = f"SELECT {rows.TASK_COLS} FROM tasks WHERE sid = ?"
        if wanted:
            sql += f" AND status IN ({','.join('?' * len(wanted))})"
        sql += " ORDER BY created_seq"
        with self._reading([(sql, (sid, *wanted)), (AFTER_SQL, (sid,))]):
            found = [rows.task(r) for r in self.db.conn.execute(sql, (sid, *wanted))]
            return list(with_after(self.db.conn, sid, found))

    def events(
        self,
        sid: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
        before_seq: int | None = None,
    ) -> list[Event]:
        """Events of ``sid`` with ``after_seq < seq < before_seq``, oldest first (or newest
        first), at most ``limit`` of them. An unknown ``sid`` has no events.

        Raises:
            StorageError: the database cannot be read.
        """
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT {rows.EVENT_COLS} FROM events WHERE sid = ? AND seq > ? AND seq < ? "
            f"ORDER BY seq {order}"
        )
        below = EVENTS_PAGE_END if before_seq is None else before_seq
        params: tuple[object, ...] = (sid, after_seq, below)
        if limit is not None:  # no LIMIT clause for "all": the portable spelling
            sql, params = sql + " LIMIT ?", (*params, limit)
        with self._reading():
            return [rows.event(r) for r in self.db.conn.execute(sql, params)]

    def iter_events(
        self,
        sid: str,
        *,
        after_seq: int = 0,
        upto: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        page: int = EVENTS_PAGE,
    ) -> Iterator[Event]:
        """The events of :meth:`events` (``after_seq < seq <= upto``), read ``page`` at a
        time, so memory stays flat however long the log is: each page is its own short
        read (no snapshot is held while the caller writes), and the log being append-only
        and gapless, ``upto`` (default: the last event now) makes the pages one consistent
        history. Works alike on every engine (it is :meth:`events` in pages).

        Raises:
            StorageError: the database cannot be read (also part-way).
        """
        top = self.last_seq(sid) if upto is None else upto
        left = -1 if limit is None else limit
        if newest_first:
            below = top + 1
            while left:
                size = page if left < 0 else min(page, left)
                found = self.events(
                    sid, after_seq=after_seq, before_seq=below, limit=size, newest_first=True
                )
                yield from found
                if len(found) < size:
                    return
                below = found[-1].seq
                left -= len(found) if left > 0 else 0
            return
        after = after_seq
        while left:
            size = page if left < 0 else min(page, left)
            found = self.events(sid, after_seq=after, before_seq=top + 1, limit=size)
            yield from found
            if len(found) < size:
                return
            after = found[-1].seq
            left -= len(found) if left > 0 else 0

    def receipts(self, sid: str, events: Iterable[Event]) -> dict[int, list[Receipt]]:
        """For each of ``events`` of ``sid`` (by seq): which other actors working on that
        plan have seen it and when (:func:`store.receipts.receipts`). One read.

        Raises:
            StorageError: the database cannot be read.
        """
        from .receipts import receipts  # read by np log, np m and np web; never by a write

        wanted = list(events)
        if not wanted:
            return {}
        with self._reading():
            return receipts(self.db.conn, sid, wanted)

    def open_asks(self, sid: str | None = None) -> list[tuple[Session, Task]]:
        """The open questions of ``sid``, or of every active session (``None``): each
        session with one task holding one, oldest question first.

        Raises:
            StorageError: the database cannot be read.
        """
        cols = ", ".join(f"s.{c}" for c in rows.SESSION_COLS.split(", "))
        tcols = ", ".join(f"t.{c}" for c in rows.TASK_COLS.split(", "))
        sql = (
            f"SELECT {cols}, {tcols} FROM tasks t JOIN sessions s ON s.sid = t.sid "
            "WHERE t.ask IS NOT NULL AND "
        )
        args: tuple[Any, ...] = ()
        if sid is None:
            sql += "s.state = 'active'"
        else:
            sql += "s.sid = ?"
            args = (sid,)
        width = len(rows.SESSION_COLS.split(", "))
        with self._reading():
            found = [
                (rows.session(r[:width]), rows.task(r[width:]))
                for r in self.db.conn.execute(sql, args)
            ]
        return sorted(found, key=lambda st: (st[1].ask.at if st[1].ask else "", st[1].id))

    def started_facts(self, sid: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The git facts recorded when each of the tasks ``ids`` last moved to in progress
        (its newest ``task_status_changed`` to in progress carrying ``git``); tasks never
        started with facts are left out.

        Raises:
            StorageError: the database cannot be read.
        """
        out: dict[str, dict[str, Any]] = {}
        with self._reading():
            for task_id in dict.fromkeys(ids):
                for (payload,) in self.db.conn.execute(
                    "SELECT payload FROM events WHERE sid = ? AND type = 'task_status_changed' "
                    "AND CAST(payload AS TEXT) LIKE ? ORDER BY seq DESC",
                    (sid, f'%"task_id":"{task_id}"%"status_after":"in_progress"%'),
                ):
                    data = json.loads(payload) if isinstance(payload, str) else payload
                    if data.get("task_id") == task_id and isinstance(data.get("git"), dict):
                        out[task_id] = data["git"]
                        break
        return out

    def last_seq(self, sid: str) -> int:
        """The seq of the newest event of ``sid``: the log is gapless, so also the number of
        its events (0 for an unknown ``sid``).

        Raises:
            StorageError: the database cannot be read.
        """
        with self._reading():
            return last_seq(self.db.conn, sid)

    def sessions(
        self, state: str = "active", limit: int | None = None, offset: int = 0
    ) -> list[Session]:
        """Sessions, most recently updated first; ``state`` is active, archived or all;
        the first ``offset`` of them skipped.

        Raises:
            InvalidArgument: another ``state`` (``field="state"``, ``value``, ``allowed``).
            StorageError: the database cannot be read.
        """
        return [session for session, _ in self._sessions(state, limit, offset)]

    def listing(
        self, state: str = "active", limit: int | None = None
    ) -> list[tuple[Session, str | None]]:
        """:meth:`sessions` with each one's goal title (None: no goal), in one statement
        (``np ls``: one round trip on PostgreSQL).

        Raises:
            InvalidArgument: another ``state`` (``field="state"``, ``value``, ``allowed``).
            StorageError: the database cannot be read.
        """
        return self._sessions(state, limit, 0, titles=True)

    def _sessions(
        self, state: str, limit: int | None, offset: int, *, titles: bool = False
    ) -> list[tuple[Session, str | None]]:
        where = {"active": "state = 'active'", "archived": "state = 'archived'", "all": "1 = 1"}
        if state not in where:
            raise InvalidArgument(
                "The state must be one of active, archived or all.",
                field="state",
                value=str(state)[:40],
                allowed=list(where),
            )
        title = ", (SELECT title FROM goals g WHERE g.sid = sessions.sid)" if titles else ""
        sql = (
            f"SELECT {rows.SESSION_COLS}{title} FROM sessions WHERE {where[state]} "
            "ORDER BY last_updated_at DESC, sid DESC"
        )
        params: tuple[object, ...] = ()
        if limit is not None or offset:  # no LIMIT clause for "all": the portable spelling
            # (OFFSET needs a LIMIT on SQLite: the largest one both engines take)
            sql += " LIMIT ? OFFSET ?"
            params = (NO_LIMIT if limit is None else limit, offset)
        with self.db.single():
            return [
                (rows.session(r), r[7] if titles else None)
                for r in self.db.conn.execute(sql, params)
            ]

    def count_sessions(self, state: str = "active") -> int:
        """How many sessions are in ``state`` (active, archived or all).

        Raises:
            StorageError: the database cannot be read.
        """
        where = {"active": "state = 'active'", "archived": "state = 'archived'"}.get(state, "1 = 1")
        with self.db.single():
            return int(aggregate(self.db.conn, f"SELECT count(*) FROM sessions WHERE {where}")[0])

    def overview(self, sids: list[str]) -> dict[str, dict[str, Any]]:
        """Each session's goal title, task counts by status, number of events and actors
        (:func:`store.queries.overview`), one snapshot.

        Raises:
            StorageError: the database cannot be read.
        """
        with self._reading():
            return overview(self.db.conn, sids)


# Stands for "the session found here" in the reads :meth:`Store.plan_here` sends before it
# knows that session's id (:func:`store.queries.bind` puts a subquery in its place).
HERE = "\x00np:here"


def _plan_and_notice_reads(
    sid: str, actor: str | None, preview: bool
) -> list[tuple[str, tuple[object, ...]]]:
    """The statements :meth:`Store.plan_and_notice` of ``sid`` starts with."""
    reads = preview_reads(sid, PREVIEW_LIMIT) if preview else plan_reads(sid)
    return [*reads, seen_and_top_read(sid, actor)] if actor else reads


__all__ = ["Store"]
