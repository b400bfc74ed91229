"""The unit of work: everything one command writes, inside one ``BEGIN IMMEDIATE``.

The Python counterpart of the seed's ``WithTxn``/``TxnStore``. A ``UnitOfWork`` is valid
only inside ``Store.transaction()``; every mutation touches the session (sets
``last_updated_at``) and appends its events in that same transaction, so either all of a
command lands or none of it does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from . import agents, rows
from .clock import Clock, ensure_utc, format_time
from .engine import Conn, Known, ReadAhead
from .errors import (
    ChangedSinceSeen,
    GoalAlreadySet,
    GoalNotSet,
    InvalidArgument,
    NoActiveSession,
    ReasonRequired,
    SessionAlreadyActive,
    TaskClaimed,
    TaskNotFound,
)
from .ids import new_task_id, new_ulid
from .limits import (
    check_answer,
    check_batch,
    check_choices,
    check_description,
    check_optional_reason,
    check_question,
    check_reason,
    check_title,
)
from .paths import broad_folders, canonical_dir, dir_key, file_identity
from .queries import (
    after_ids,
    aggregate,
    archived_unseen,
    find_active,
    joinable,
    load_session,
    locate,
    look,
    mark_seen,
    no_session_error,
    search_paths,
    seen_seq,
    tasks_by_id,
)
from .text import printable
from .types import (
    Ask,
    Changes,
    Event,
    EventType,
    Goal,
    NewTask,
    Session,
    SessionState,
    Status,
    StatusChange,
    Task,
)

# The statuses whose change records the working tree's git facts (evidence on "done").
EVIDENCE_STATUSES = (Status.IN_PROGRESS, Status.COMPLETED)


class Replayed(Exception):
    """The unit's idempotency key was used before: nothing was written; ``first`` holds
    what the first request answered (``sid``, ``at``, ``answer``)."""

    def __init__(self, first: dict[str, Any]) -> None:
        super().__init__("replayed")
        self.first = first


class UnitOfWork:
    """Everything one command writes, inside one ``BEGIN IMMEDIATE`` transaction.

    Made only by :meth:`Store.transaction`. Each write method checks all of its input
    before it writes anything, touches the session once per unit and appends one event per
    change; the events appended are in :attr:`events`. Exceptions propagate and the
    transaction rolls back.
    """

    def __init__(
        self,
        conn: Conn,
        clock: Clock,
        cmd: str,
        actor: str | None = None,
        scope: str = "",
        integrity_errors: tuple[type[BaseException], ...] = (),
        ahead: ReadAhead | None = None,
    ) -> None:
        self._conn = conn
        # The engine's read-ahead (PostgreSQL); None: every read is asked when needed.
        self._ahead = ahead
        self._known: dict[str, Known] = {}
        # What a lost race on the one-active-session index raises (the engine's errors).
        self.integrity_errors = integrity_errors
        self._clock = clock
        self.cmd = printable(cmd)  # recorded on every event: never what makes a write fail
        self.actor = actor
        self.scope = scope  # "" on SQLite; the host name or NP_SCOPE on PostgreSQL
        self._now: datetime | None = None
        self._now_text = ""
        self._sessions: dict[str, Session] = {}  # read under the write lock: stays true
        self._touched: set[str] = set()
        self._renewed: set[str] = set()  # sessions whose leases this unit renewed
        self._next_seq: dict[str, int] = {}
        # What the actor had seen of each session, as read in this unit (under the lock).
        self._seen_here: dict[str, int | None] = {}
        self.events: list[Event] = []
        # Notices this unit read and did not mark: marked once their output was produced.
        self.unmarked: list[Changes] = []
        # What an idempotency key answers when the same request comes again.
        self.answer: dict[str, Any] = {}

    def locate(self, directory: str) -> tuple[Session | None, Session | None]:
        """The active session at or above ``directory`` and, when none, a session whose
        folder moved (see :func:`store.queries.locate`); read inside this unit."""
        return locate(self._conn, directory, self.scope)

    # -- time and sessions -------------------------------------------------------------

    def now(self) -> str:
        """The unit's time: the clock is read once, on first use, so a command's writes
        and events share one timestamp; never earlier than the newest time already
        recorded (a clock that went back repeats that time instead)."""
        if self._now is None and self._ahead is not None:
            # The engine's clock (the server's, read with the unit's first reads): every
            # machine's units are stamped by one clock; a unit whose session changed after
            # its reads is retried, so a session's times never go back either.
            engine_now = self._ahead.now()
            if engine_now is not None:
                self._now = ensure_utc(engine_now)
                self._now_text = format_time(self._now)
        if self._now is None:
            now = ensure_utc(self._clock())
            # A clock that jumps back (NTP, a resumed VM, a container with another time)
            # must not make the log say a change came before the one it follows: time in
            # the database never goes backwards. Under the write lock, the newest event
            # (the highest rowid: commit order) holds the latest time written.
            row = self._conn.execute("SELECT at FROM events ORDER BY id DESC LIMIT 1").fetchone()
            if row is not None and format_time(now) < row[0]:
                now = datetime.fromisoformat(row[0])
            self._now = now
            self._now_text = format_time(self._now)
        return self._now_text

    def load(self, sid: str) -> Session:
        """The session ``sid`` as this unit sees it (read once, then kept).

        Raises:
            InvalidArgument: no session has that id (``field="sid"``).
        """
        session = self._sessions.get(sid)
        if session is None and self._ahead is not None:
            session = self._adopt(self._ahead.session(sid=sid))
        if session is None:
            session = self._sessions[sid] = load_session(self._conn, sid)
        return session

    def _adopt(self, known: Known | None) -> Session | None:
        """Keep what the engine read ahead about a session (None: nothing was)."""
        if known is None:
            return None
        sid = known.session.sid
        self._known[sid] = known
        self._sessions[sid] = known.session
        self._next_seq.setdefault(sid, known.next_seq)
        return known.session

    def _fresh(self, sid: str) -> Known | None:
        """What was read ahead about ``sid``'s goal and tasks, while this unit has not
        changed them (after its first event they are read again)."""
        known = self._known.get(sid)
        return known if known is not None and known.fresh else None

    def active_for(self, directory: str) -> Session:
        """The active session at or above ``directory``.

        Raises:
            NoActiveSession: nothing is active there (``field="dir"``, ``dir``).
        """
        if self._ahead is not None:
            found = self._adopt(self._ahead.session(directory=directory))
            if found is not None and found.active:
                return found
        session, moved = locate(self._conn, directory, self.scope)
        if session is None:
            archived = archived_unseen(self._conn, directory, self.actor, self.scope)
            join = joinable(self._conn, directory, self.scope)
            raise no_session_error(directory, moved, archived, join)
        self._sessions[session.sid] = session
        return session

    def find_active(self, directory: str) -> Session | None:
        """The active session at or above ``directory``, or None."""
        if self._ahead is not None:
            found = self._adopt(self._ahead.session(directory=directory))
            if found is not None and found.active:
                return found
        session = find_active(self._conn, directory, self.scope)
        if session is not None:
            self._sessions[session.sid] = session
        return session

    def last_archived(self, directory: str) -> Session | None:
        """The most recently archived session of ``directory`` itself (canonicalised), or
        None: what archiving a directory whose session is already archived answers with."""
        row = self._conn.execute(
            f"SELECT {rows.SESSION_COLS} FROM sessions "
            "WHERE dir = ? AND scope = ? AND state = 'archived' "
            "ORDER BY archived_at DESC, sid DESC LIMIT 1",
            (dir_key(canonical_dir(directory)), self.scope),
        ).fetchone()
        if row is None:
            return None
        session = rows.session(row)
        self._sessions[session.sid] = session
        return session

    def touch_at(self, sid: str, at: datetime | None = None) -> Session:
        """Set ``last_updated_at``: the given time (normalised to UTC) or the clock's.

        Raises:
            InvalidArgument: no session has that id (``field="sid"``).
        """
        stamp = format_time(at) if at is not None else self.now()
        session = self.load(sid)
        self._conn.execute("UPDATE sessions SET last_updated_at = ? WHERE sid = ?", (stamp, sid))
        touched = attrs.evolve(session, last_updated_at=stamp)
        self._sessions[sid] = touched
        self._touched.add(sid)
        return touched

    def _writable(self, sid: str) -> Session:
        """Touch once per unit; refuse writes to an archived session. The actor's first
        write in a unit renews the leases of the claims it holds in the session."""
        session = self.load(sid) if sid in self._touched else self.touch_at(sid)
        if sid not in self._renewed and self.actor is not None and session.active:
            self._renewed.add(sid)
            self._conn.execute(
                "UPDATE tasks SET claim_expires_at = ? WHERE sid = ? AND claimed_by = ? "
                "AND status = 'in_progress' AND claim_expires_at > ?",
                (agents.lease_end(self.now()), sid, self.actor, self.now()),
            )
        if not session.active:
            raise NoActiveSession(
                f"Session {sid} is archived and can no longer change.",
                field="sid",
                sid=sid,
                dir=session.dir,
                state=str(session.state),
            )
        return session

    def append_event(
        self, sid: str, type: EventType, payload: dict[str, Any], reason: str | None = None
    ) -> Event:
        """Append one event to the log of ``sid`` at the next seq (no checks: callers
        validate). ``payload`` must be JSON-serialisable."""
        event = Event(
            sid, self._take_seq(sid), self.now(), type, reason, self.cmd, payload, self.actor
        )
        known = self._known.get(sid)
        if known is not None:
            known.fresh = False  # the unit changed the session: read again from here on
        self._conn.execute(
            "INSERT INTO events (sid, seq, at, type, reason, cmd, payload, actor) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sid,
                event.seq,
                event.at,
                str(type),
                reason,
                self.cmd,
                json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
                self.actor,
            ),
        )
        self.events.append(event)
        return event

    def start_session(self, directory: str) -> Session:
        """Start a session for ``directory`` (canonicalised) and log ``session_started``.

        Raises:
            InvalidArgument: the directory does not exist (``field="dir"``, ``dir``).
            SessionAlreadyActive: one is active there (``field="dir"``, ``dir``,
                ``session``).
        """
        real = canonical_dir(directory)
        path = dir_key(real)
        _check_dir(real, path)
        if self._ahead is not None:
            self._ahead.before_start(self.scope)
        existing, moved = locate(self._conn, directory, self.scope)
        if moved is not None:
            raise SessionAlreadyActive(
                no_session_error(directory, moved).message,
                field="dir",
                dir=path,
                session=rows.session_dict(moved),
                moved=rows.session_dict(moved),
            )
        if existing is not None:
            where = (
                "this directory"
                if existing.dir == path
                else f"{existing.dir}, which contains this directory"
            )
            raise SessionAlreadyActive(
                f"A session is already active for {where}; resume it, or ask the "
                "operator to archive it before starting another.",
                field="dir",
                dir=path,
                session=rows.session_dict(existing),
            )
        now = self.now()
        session = Session(
            new_ulid(self._now or self._clock()),
            path,
            SessionState.ACTIVE,
            now,
            now,
            scope=self.scope,
        )
        try:
            ident = file_identity(real) or (None, None)
            self._conn.execute(
                f"INSERT INTO sessions ({rows.SESSION_COLS}, dir_dev, dir_ino) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session.sid, session.dir, str(session.state), now, now, None, self.scope, *ident),
            )
        except self.integrity_errors:  # the unique partial index: a race we lost
            raise SessionAlreadyActive(
                "A session is already active for this directory; resume it.",
                field="dir",
                dir=path,
                session=rows.session_dict(find_active(self._conn, real, self.scope)),
            ) from None
        if self._ahead is not None:
            keys = [dir_key(p) for p in search_paths(directory)]
            self._ahead.after_start(self.scope, keys, session.sid)
        # A new session: nothing to read about it (no events, goal, tasks or marks yet).
        self._adopt(Known(session, 1, None, None, seen_read=True, tasks={}))
        self._touched.add(session.sid)
        self.append_event(session.sid, EventType.SESSION_STARTED, {"dir": path})
        return session

    def archive(self, sid: str) -> Session:
        """Archive ``sid``; archiving an archived session succeeds and changes nothing.

        Raises:
            InvalidArgument: no session has that id (``field="sid"``).
        """
        session = self.load(sid)
        if not session.active:
            return session
        now = self.now()
        self._conn.execute(
            "UPDATE sessions SET state = 'archived', archived_at = ?, last_updated_at = ? "
            "WHERE sid = ?",
            (now, now, sid),
        )
        archived = attrs.evolve(
            session, state=SessionState.ARCHIVED, last_updated_at=now, archived_at=now
        )
        self._sessions[sid] = archived
        self._touched.add(sid)
        payload: dict[str, Any] = {"dir": session.dir}
        open_tasks = {
            str(r[0]): int(r[1])
            for r in self._conn.execute(
                "SELECT status, count(*) FROM tasks WHERE sid = ? "
                "AND status IN ('pending', 'in_progress') GROUP BY status",
                (sid,),
            )
        }
        if open_tasks:  # archived with work still open: said plainly (no reason needed)
            payload["open_tasks"] = open_tasks
        self.append_event(sid, EventType.SESSION_ARCHIVED, payload)
        return archived

    def join_session(self, sid: str, directory: str) -> tuple[Session, bool]:
        """Let ``directory`` (canonicalised; a linked git worktree, a clone at another path
        or on another machine) work on session ``sid``'s plan: from then on np finds that
        plan from there as from a parent folder. Logs ``session_joined`` (``dir``,
        ``scope``). Returns ``(session, joined)``; joining again changes nothing.

        Raises:
            InvalidArgument: the directory does not exist, or ``sid`` names no session.
            NoActiveSession: the session is archived (``field="sid"``).
            SessionAlreadyActive: the directory has a plan of its own (``field="dir"``).
        """
        real = canonical_dir(directory)
        path = dir_key(real)
        _check_dir(real, path)
        target = self.load(sid)
        here, _ = locate(self._conn, directory, self.scope)
        if here is not None and here.sid == sid:
            return here, False  # already its plan (its own folder, below it, or joined)
        if here is not None and here.dir == path:
            raise SessionAlreadyActive(
                "This folder has an active plan of its own; the operator archives it before "
                "this folder can join another.",
                field="dir",
                dir=path,
                session=rows.session_dict(here),
            )
        session = self._writable(target.sid)
        self._conn.execute(
            "INSERT INTO joins (sid, scope, dir, at) VALUES (?, ?, ?, ?)",
            (sid, self.scope, path, self.now()),
        )
        self.append_event(sid, EventType.SESSION_JOINED, {"dir": path, "scope": self.scope})
        return session, True

    def move_session(self, sid: str, directory: str, reason: str | None) -> Session:
        """Record that session ``sid`` now lives at ``directory`` (canonicalised): its
        folder was renamed or moved. Logs ``session_moved`` (``dir_before``,
        ``dir_after``) with ``reason``; moving to where it already is changes nothing.

        Raises:
            ReasonRequired: no reason (``field="reason"``, ``action="session.move"``).
            InvalidArgument: the directory does not exist (``field="dir"``), or ``sid``
                names no session (``field="sid"``).
            NoActiveSession: the session is archived (``field="sid"``).
            SessionAlreadyActive: another session is active at ``directory``
                (``field="dir"``, ``session``).
        """
        why = check_reason(reason, "move a session", action="session.move", sid=sid)
        real = canonical_dir(directory)
        path = dir_key(real)
        _check_dir(real, path)
        session = self._writable(sid)
        ident = file_identity(real) or (None, None)
        if session.dir == path:
            return session
        row = self._conn.execute(
            f"SELECT {rows.SESSION_COLS} FROM sessions "
            "WHERE state = 'active' AND scope = ? AND dir = ?",
            (session.scope, path),
        ).fetchone()
        if row is not None:
            raise SessionAlreadyActive(
                "Another session is already active in that directory; archive it first.",
                field="dir",
                dir=path,
                session=rows.session_dict(rows.session(row)),
            )
        self._conn.execute(
            "UPDATE sessions SET dir = ?, dir_dev = ?, dir_ino = ? WHERE sid = ?",
            (path, *ident, sid),
        )
        moved = attrs.evolve(session, dir=path)
        self._sessions[sid] = moved
        self.append_event(
            sid, EventType.SESSION_MOVED, {"dir_before": session.dir, "dir_after": path}, why
        )
        return moved

    # -- goal -----------------------------------------------------------------------------

    def goal(self, sid: str) -> Goal | None:
        """The goal of ``sid``, or ``None`` when none is set."""
        known = self._fresh(sid)
        if known is not None:
            return known.goal
        row = self._conn.execute(
            f"SELECT {rows.GOAL_COLS} FROM goals WHERE sid = ?", (sid,)
        ).fetchone()
        return rows.goal(row) if row else None

    def set_goal(self, sid: str, title: str, description: str) -> Goal:
        """Set the goal of a session that has none; logs ``goal_set``.

        Raises:
            InvalidArgument: a bad title or description (``field``, ``length``, ``limit``).
            GoalAlreadySet: the session has a goal (``sid``).
            NoActiveSession: the session is archived (``field="sid"``).
            InvalidArgument: ``sid`` names no session (``field="sid"``).
        """
        title = check_title(title)
        description = check_description(description)
        self._writable(sid)
        if self.goal(sid) is not None:
            raise GoalAlreadySet(
                "The goal is already set; change it only when the operator asks, and say why.",
                sid=sid,
            )
        goal = Goal(title, description, self.now())
        self._conn.execute(
            "INSERT INTO goals (sid, title, description, updated_at) VALUES (?, ?, ?, ?)",
            (sid, goal.title, goal.description, goal.updated_at),
        )
        self.append_event(sid, EventType.GOAL_SET, {"goal": rows.goal_snapshot(goal)})
        return goal

    def change_goal(
        self, sid: str, title: str | None, description: str | None, reason: str | None
    ) -> Goal:
        """Change the goal's title and/or description, for ``reason``; logs
        ``goal_updated`` with the goal before and after.

        Raises:
            InvalidArgument: neither title nor description given (``field="title"``,
                ``fields``), or a bad one.
            ReasonRequired: no reason (``field="reason"``, ``action="goal.change"``).
            GoalNotSet: the session has no goal yet (``sid``).
            NoActiveSession: the session is archived (``field="sid"``).
            InvalidArgument: ``sid`` names no session (``field="sid"``).
        """
        new_title, new_description = _checked_edit(title, description)
        why = check_reason(reason, "change the goal", action="goal.change")
        self._writable(sid)
        before = self.goal(sid)
        if before is None:
            raise GoalNotSet("No goal is set yet.", sid=sid)
        self._refuse_unseen(sid, [], goal=True)
        after = attrs.evolve(
            before,
            title=new_title if new_title is not None else before.title,
            description=new_description if new_description is not None else before.description,
            updated_at=self.now(),
        )
        self._conn.execute(
            "UPDATE goals SET title = ?, description = ?, updated_at = ? WHERE sid = ?",
            (after.title, after.description, after.updated_at, sid),
        )
        self.append_event(
            sid,
            EventType.GOAL_UPDATED,
            {"goal_before": rows.goal_snapshot(before), "goal_after": rows.goal_snapshot(after)},
            reason=why,
        )
        return after

    # -- tasks ----------------------------------------------------------------------------

    def _task_rows(self, sid: str, ids: Sequence[str]) -> dict[str, Task]:
        known = self._fresh(sid)
        whole = known.tasks if known is not None else None
        if whole is not None:  # every task, as read ahead: a task not there is not found
            found = {i: whole[i] for i in ids if i in whole}
        else:
            found = tasks_by_id(self._conn, sid, ids)
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing:
            listed = ", ".join(missing)
            raise TaskNotFound(
                f"No task with id {listed} in this session.", field="id", ids=missing, sid=sid
            )
        return found

    def add_tasks(self, sid: str, items: Sequence[NewTask]) -> list[Task]:
        """Add tasks (pending, in order, with fresh short ids); logs ``task_added`` each.

        A task may wait for others (``NewTask.after``: ids in the plan, or ``#N`` for an
        earlier task of this batch).

        Raises:
            InvalidArgument: an empty or over-long batch (``field="tasks"``), or a bad
                title or description (``field``, ``item``).
            DependencyRefused: ``after`` names an unknown task (``field="after"``).
            NoActiveSession: the session is archived (``field="sid"``).
            InvalidArgument: ``sid`` names no session (``field="sid"``).
        """
        check_batch(list(items), "tasks")
        checked = [
            attrs.evolve(
                item,
                title=check_title(item.title, "title", item=n),
                description=check_description(item.description, "description", item=n),
            )
            for n, item in enumerate(items, 1)
        ]
        self._writable(sid)
        taken = self._taken_ids(sid)
        known = set(taken)
        now = self.now()
        added: list[Task] = []
        batch: list[str] = []
        for n, item in enumerate(checked, 1):
            after = agents.resolve_after(n, item.after, batch, known) if item.after else ()
            task_id = new_task_id(taken)
            taken.add(task_id)
            batch.append(task_id)
            seq = self._peek_seq(sid)
            task = Task(
                task_id, item.title, item.description, Status.PENDING, now, now, seq, after=after
            )
            self._conn.execute(
                f"INSERT INTO tasks (sid, {rows.TASK_COLS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sid,
                    *(task.id, task.title, task.description, str(task.status), now, now, seq),
                    *(None, None, None, None),
                ),
            )
            self._insert_after(sid, task_id, after)
            snapshot = rows.task_snapshot(task)
            if after:
                snapshot["after"] = list(after)
            self.append_event(sid, EventType.TASK_ADDED, {"task": snapshot})
            added.append(task)
        return added

    def _taken_ids(self, sid: str) -> set[str]:
        """The task ids ``sid`` already has (read under the write lock)."""
        known = self._fresh(sid)
        if known is not None and known.tasks is not None:
            return set(known.tasks)
        return {row[0] for row in self._conn.execute("SELECT id FROM tasks WHERE sid = ?", (sid,))}

    def _peek_seq(self, sid: str) -> int:
        """The seq the next event of ``sid`` gets: read once per unit, then counted on (the
        write lock is held, and the database's gapless trigger checks every insert)."""
        if sid not in self._next_seq:
            row = aggregate(
                self._conn, "SELECT coalesce(max(seq), 0) + 1 FROM events WHERE sid = ?", (sid,)
            )
            self._next_seq[sid] = int(row[0])
        return self._next_seq[sid]

    def _take_seq(self, sid: str) -> int:
        seq = self._peek_seq(sid)
        self._next_seq[sid] = seq + 1
        return seq

    def set_statuses(
        self,
        sid: str,
        changes: Sequence[StatusChange],
        evidence: Mapping[str, dict[str, Any]] | None = None,
    ) -> list[Task]:
        """Apply status changes in order. Validation covers the whole batch first, so one bad
        item rejects everything. A change to the status a task already has is a no-op.
        Returns the tasks that changed; logs ``task_status_changed`` for each, with
        ``evidence[id]`` (the working tree's git facts) as its ``git`` when the task moves
        to in progress or completed.

        Claims: moving a task to in progress claims it for this unit's actor (until
        :func:`store.agents.lease_end`); leaving in progress releases the claim. Another
        actor's live claim refuses the change unless the item takes it over (``take_over``,
        with a reason); taking over a live or an expired claim logs ``task_claimed``.

        Raises:
            InvalidArgument: an empty or over-long batch (``field="updates"``), or a blank
                or over-long reason (``field="reason"``, ``item``).
            ReasonRequired: failed or cancelled without a reason, or a takeover without one
                (``field="reason"``, ``action="task.status"``, ``id``, ``status``, ``item``).
            TaskNotFound: an id is not in the session (``field="id"``, ``ids``).
            TaskClaimed: another actor holds a live claim on a task (``id``,
                ``claimed_by``, ``claim_expires_at``).
            ChangedSinceSeen: another actor changed one of these tasks since this actor
                last looked (nothing written).
            NoActiveSession: the session is archived (``field="sid"``).
            InvalidArgument: ``sid`` names no session (``field="sid"``).
        """
        check_batch(list(changes), "updates")
        checked: list[StatusChange] = []
        missing: ReasonRequired | None = None  # told once the tasks are known to exist
        for n, change in enumerate(changes, 1):
            reason: str | None = None
            if change.status.needs_reason or change.take_over:
                what = f"mark task {change.id} {change.status.value}"
                if change.take_over:
                    what = f"take over task {change.id}"
                try:
                    reason = check_reason(
                        change.reason,
                        what,
                        action="task.status",
                        id=change.id,
                        status=change.status.value,
                        item=n,
                    )
                except ReasonRequired as exc:
                    missing = missing or exc
            else:
                reason = check_optional_reason(change.reason, item=n)
            checked.append(attrs.evolve(change, reason=reason))
        self._writable(sid)
        current = self._task_rows(sid, [c.id for c in checked])  # an unknown id: said first
        if missing is not None:
            raise missing
        now = self.now()
        moving = [c.id for c in checked if current[c.id].status is not c.status]
        self._refuse_unseen(sid, moving)
        for change in checked:
            before = current[change.id]
            if before.status is change.status and change.status is not Status.IN_PROGRESS:
                continue
            if agents.held_by_other(before, self.actor, now) and not change.take_over:
                raise TaskClaimed(
                    f"Task {before.id} is held by {before.claimed_by} until "
                    f"{agents.shown_time(before.claim_expires_at)}; its status is theirs to "
                    "change until then.",
                    field="id",
                    id=before.id,
                    sid=sid,
                    claimed_by=before.claimed_by,
                    claim_expires_at=before.claim_expires_at,
                )
        changed: list[Task] = []
        for change in checked:
            before = current[change.id]
            taking = (
                before.claimed_by is not None
                and before.claimed_by != self.actor
                and (change.take_over or change.status is Status.IN_PROGRESS)
                and (change.take_over or not agents.live_claim(before, now))
            )
            if taking:
                self._log_claim(sid, before, change.reason, now)
            if before.status is change.status:
                if (
                    change.status is Status.IN_PROGRESS
                    and self.actor is not None
                    and before.claimed_by != self.actor
                ):
                    if not taking:
                        self._log_claim(sid, before, change.reason, now)
                    current[change.id] = after = self._claim(sid, before, now)
                    changed.append(after)
                continue
            facts = (evidence or {}).get(before.id)
            git = facts if change.status in EVIDENCE_STATUSES else None
            after = self._change_status(sid, before, change.status, change.reason, now, git)
            current[change.id] = after
            changed.append(after)
        return changed

    def _log_claim(self, sid: str, task: Task, reason: str | None, now: str) -> None:
        """Log that this unit's actor takes ``task`` from its holder (live or expired)."""
        self.append_event(
            sid,
            EventType.TASK_CLAIMED,
            {
                "task_id": task.id,
                "title": task.title,
                "claimed_by": self.actor,
                "taken_from": task.claimed_by,
                "expired": not agents.live_claim(task, now),
                "claim_expires_at": agents.lease_end(now),
            },
            reason=reason,
        )

    def _claim(self, sid: str, task: Task, now: str) -> Task:
        """Hold ``task`` (already in progress) for this unit's actor, a fresh lease."""
        until = agents.lease_end(now)
        self._conn.execute(
            "UPDATE tasks SET claimed_by = ?, claim_expires_at = ?, updated_at = ? "
            "WHERE sid = ? AND id = ?",
            (self.actor, until, now, sid, task.id),
        )
        return attrs.evolve(task, claimed_by=self.actor, claim_expires_at=until, updated_at=now)

    def _change_status(
        self,
        sid: str,
        before: Task,
        status: Status,
        reason: str | None,
        now: str,
        git: dict[str, Any] | None = None,
    ) -> Task:
        """Write one status change and its event; in progress claims, leaving releases;
        ``git``: the working tree's facts, recorded in the event (evidence on "done")."""
        # The reason stays with the task while it is failed or cancelled (plan text, JSON).
        kept = reason if status.needs_reason else None
        claimed = status is Status.IN_PROGRESS and self.actor is not None
        holder = self.actor if claimed else None
        until = agents.lease_end(now) if claimed else None
        after = attrs.evolve(
            before,
            status=status,
            updated_at=now,
            reason=kept,
            claimed_by=holder,
            claim_expires_at=until,
        )
        self._conn.execute(
            "UPDATE tasks SET status = ?, updated_at = ?, reason = ?, claimed_by = ?, "
            "claim_expires_at = ? WHERE sid = ? AND id = ?",
            (str(status), now, kept, holder, until, sid, before.id),
        )
        payload: dict[str, Any] = {
            "task_id": before.id,
            "title": before.title,
            "status_before": str(before.status),
            "status_after": str(status),
            "updated_at": now,
        }
        if claimed:
            payload["claimed_by"] = holder
            payload["claim_expires_at"] = until
        if git is not None:
            payload["git"] = git
        self.append_event(sid, EventType.TASK_STATUS_CHANGED, payload, reason=reason)
        return after

    # -- dependencies and the ready queue -----------------------------------------------

    def set_after(self, sid: str, task_id: str, after: Sequence[str], reason: str | None) -> Task:
        """Change what ``task_id`` waits for (replacing it; empty: nothing), for
        ``reason``; logs ``task_after_changed`` (``after_before``, ``after_after``).

        Raises:
            ReasonRequired: no reason (``field="reason"``, ``action="task.after"``).
            TaskNotFound: no such task.
            DependencyRefused: an unknown id, itself, or a cycle (``field="after"``).
            ChangedSinceSeen: another actor changed the task since this actor looked.
        """
        why = check_reason(
            reason, f"change what task {task_id} waits for", action="task.after", id=task_id
        )
        self._writable(sid)
        task = self._task_rows(sid, [task_id])[task_id]
        self._refuse_unseen(sid, [task_id])
        graph = dict(after_ids(self._conn, sid))
        known = self._taken_ids(sid)
        wanted = agents.resolve_after(1, after, [], known)
        before = graph.get(task_id, ())
        graph[task_id] = wanted
        agents.check_no_cycle(graph, task_id)
        if set(before) == set(wanted):
            return attrs.evolve(task, after=before)
        self._conn.execute("DELETE FROM task_after WHERE sid = ? AND task_id = ?", (sid, task_id))
        self._insert_after(sid, task_id, wanted)
        self.append_event(
            sid,
            EventType.TASK_AFTER_CHANGED,
            {
                "task_id": task_id,
                "title": task.title,
                "after_before": list(before),
                "after_after": list(wanted),
            },
            reason=why,
        )
        return attrs.evolve(task, after=wanted)

    def _insert_after(self, sid: str, task_id: str, after: Sequence[str]) -> None:
        for other in after:
            self._conn.execute(
                "INSERT INTO task_after (sid, task_id, after_id) VALUES (?, ?, ?)",
                (sid, task_id, other),
            )

    def next_task(self, sid: str) -> tuple[Task | None, str, list[dict[str, Any]]]:
        """Claim the first ready task of ``sid`` (creation order) for this unit's actor, in
        this unit: ``(task, "", [])``; when none is ready, ``(None, why, facts)`` and
        nothing is written (see :func:`store.agents.why_none_ready`). A task whose holder's
        lease ran out is taken over (``task_claimed``, ``expired: true``).

        Raises:
            InvalidArgument: no actor (a claim needs one; ``field="actor"``).
        """
        if self.actor is None:
            raise InvalidArgument("Claiming a task needs an actor.", field="actor")
        now = self.now()
        row = self._conn.execute(
            f"SELECT {rows.TASK_COLS} FROM tasks t WHERE t.sid = ? AND "
            "(t.status = 'pending' OR (t.status = 'in_progress' AND t.claimed_by IS NOT NULL "
            "AND t.claim_expires_at <= ?)) "
            "AND (t.claimed_by IS NULL OR t.claim_expires_at <= ?) "
            "AND NOT EXISTS (SELECT 1 FROM task_after a JOIN tasks d "
            "ON d.sid = a.sid AND d.id = a.after_id "
            "WHERE a.sid = t.sid AND a.task_id = t.id AND d.status <> 'completed') "
            "ORDER BY t.created_seq LIMIT 1",
            (sid, now, now),
        ).fetchone()
        if row is None:
            everything = [
                rows.task(r)
                for r in self._conn.execute(
                    f"SELECT {rows.TASK_COLS} FROM tasks WHERE sid = ? ORDER BY created_seq",
                    (sid,),
                )
            ]
            deps = after_ids(self._conn, sid)
            everything = [attrs.evolve(t, after=deps.get(t.id, ())) for t in everything]
            why, facts = agents.why_none_ready(everything, now)
            return None, why, facts
        task = rows.task(row)
        self._writable(sid)
        if task.status is Status.IN_PROGRESS:  # an expired claim: taken over
            self._log_claim(sid, task, None, now)
            claimed = self._claim(sid, task, now)
        else:
            claimed = self._change_status(sid, task, Status.IN_PROGRESS, None, now)
        deps = after_ids(self._conn, sid)
        return attrs.evolve(claimed, after=deps.get(task.id, ())), "", []

    def edit_task(
        self,
        sid: str,
        task_id: str,
        title: str | None,
        description: str | None,
        reason: str | None,
    ) -> Task:
        """Change a task's title and/or description, for ``reason``; logs ``task_updated``.
        The text the task already has is a no-op: nothing is written, ``before`` returned.

        Raises:
            InvalidArgument: neither title nor description given (``field="title"``,
                ``fields``), or a bad one.
            ReasonRequired: no reason (``field="reason"``, ``action="task.edit"``, ``id``).
            TaskNotFound: no such task (``field="id"``, ``ids``).
            NoActiveSession: the session is archived (``field="sid"``).
            InvalidArgument: ``sid`` names no session (``field="sid"``).
        """
        new_title, new_description = _checked_edit(title, description)
        why = check_reason(reason, f"edit task {task_id}", action="task.edit", id=task_id)
        self._writable(sid)
        before = self._task_rows(sid, [task_id])[task_id]
        if (new_title is None or new_title == before.title) and (
            new_description is None or new_description == before.description
        ):
            return before  # the text it already has: a no-op, as the status it already has
        self._refuse_unseen(sid, [task_id])
        now = self.now()
        after = attrs.evolve(
            before,
            title=new_title if new_title is not None else before.title,
            description=new_description if new_description is not None else before.description,
            updated_at=now,
        )
        self._conn.execute(
            "UPDATE tasks SET title = ?, description = ?, updated_at = ? WHERE sid = ? AND id = ?",
            (after.title, after.description, now, sid, task_id),
        )

        def text(t: Task) -> dict[str, str]:
            return {"title": t.title, "description": t.description, "updated_at": t.updated_at}

        self.append_event(
            sid,
            EventType.TASK_UPDATED,
            {"task_id": task_id, "before": text(before), "after": text(after)},
            reason=why,
        )
        return after

    # -- questions ------------------------------------------------------------------------

    def _set_ask(self, sid: str, task_id: str, ask: Ask | None) -> None:
        value = None if ask is None else json.dumps(ask.to_dict(), ensure_ascii=False)
        self._conn.execute(
            "UPDATE tasks SET ask = ? WHERE sid = ? AND id = ?", (value, sid, task_id)
        )

    def ask(self, sid: str, task_id: str, question: str, choices: Sequence[str] = ()) -> Task:
        """Attach a question (and optional answer choices) to a task; logs ``task_asked``.
        Nothing waits for the answer. Asking again on a task whose open question is this
        actor's replaces it (the event says which it replaced).

        Raises:
            InvalidArgument: a bad question or choices (``field``), or the task's open
                question is another actor's (``field="id"``, ``cause="question_open"``).
            TaskNotFound: no such task (``field="id"``, ``ids``).
            NoActiveSession: the session is archived (``field="sid"``).
        """
        text = check_question(question)
        options = check_choices(list(choices))
        self._writable(sid)
        task = self._task_rows(sid, [task_id])[task_id]
        if task.ask is not None and task.ask.by != self.actor:
            raise InvalidArgument(
                f"Task {task_id} already has an open question from {task.ask.by or 'someone'}"
                f" ({task.ask.question!r}); ask on another task, or wait for its answer.",
                field="id",
                id=task_id,
                cause="question_open",
                ask=task.ask.to_dict(),
            )
        ask = Ask(text, options, self.actor, self.now(), self._peek_seq(sid))
        self._set_ask(sid, task_id, ask)
        payload: dict[str, Any] = {
            "task_id": task_id,
            "title": task.title,
            "question": text,
            "choices": list(options),
        }
        if task.ask is not None:
            payload["replaces"] = task.ask.question
        self.append_event(sid, EventType.TASK_ASKED, payload)
        return attrs.evolve(task, ask=ask)

    def _open_ask(self, sid: str, task_id: str, what: str) -> tuple[Task, Ask]:
        self._writable(sid)
        task = self._task_rows(sid, [task_id])[task_id]
        if task.ask is None:
            raise InvalidArgument(
                f"Task {task_id} has no open question to {what}.",
                field="id",
                id=task_id,
                cause="no_question",
            )
        return task, task.ask

    def withdraw_ask(self, sid: str, task_id: str) -> Task:
        """Withdraw a task's open question unanswered; logs ``task_ask_withdrawn``.

        Raises:
            InvalidArgument: the task has no open question (``field="id"``,
                ``cause="no_question"``).
            TaskNotFound: no such task (``field="id"``, ``ids``).
            NoActiveSession: the session is archived (``field="sid"``).
        """
        task, ask = self._open_ask(sid, task_id, "withdraw")
        self._set_ask(sid, task_id, None)
        self.append_event(
            sid,
            EventType.TASK_ASK_WITHDRAWN,
            {
                "task_id": task_id,
                "title": task.title,
                "question": ask.question,
                "asked_by": ask.by,
                "ask_seq": ask.seq,
            },
        )
        return attrs.evolve(task, ask=None)

    def answer_ask(self, sid: str, task_id: str, answer: str) -> Task:
        """Answer a task's open question (one of its choices or free text); logs
        ``task_answered``, which reaches the asking actor once, first, in its next output.

        Raises:
            InvalidArgument: a blank or bad answer (``field="answer"``), or the task has no
                open question (``field="id"``, ``cause="no_question"``).
            TaskNotFound: no such task (``field="id"``, ``ids``).
            NoActiveSession: the session is archived (``field="sid"``): the question
                closed with it.
        """
        text = check_answer(answer)
        task, ask = self._open_ask(sid, task_id, "answer")
        self._set_ask(sid, task_id, None)
        self.append_event(
            sid,
            EventType.TASK_ANSWERED,
            {
                "task_id": task_id,
                "title": task.title,
                "question": ask.question,
                "choices": list(ask.choices),
                "answer": text,
                "choice": text in ask.choices,
                "asked_by": ask.by,
                "ask_seq": ask.seq,
            },
        )
        return attrs.evolve(task, ask=None)

    # -- what the actor has seen --------------------------------------------------------

    def look(self, sid: str) -> Changes:
        """What other actors changed in ``sid`` since this unit's actor last looked, before
        this unit's own events. Call it after the unit's writes. When nothing is new, the
        actor's position moves to the newest event (this unit's included) in this same
        transaction; a notice is marked seen only once the output carrying it was
        produced (``unmarked``, then :meth:`Store.mark_seen`), so a failed answer loses
        nothing. Without an actor, nothing is tracked and nothing is returned."""
        if self.actor is None:
            return Changes()
        own = [e.seq for e in self.events if e.sid == sid]
        known = self._known.get(sid)
        if known is not None and known.seen_read:
            read, seen = True, known.seen  # read ahead (PostgreSQL)
        elif sid in self._seen_here and sid in self._next_seq:
            read, seen = True, self._seen_here[sid]  # read in this unit, under the lock
        else:
            read, seen = False, None
        if read:
            # What the actor had seen is known: when nobody else wrote since, marking it
            # seen is one more write, with no read.
            top = self._next_seq.get(sid, 1) - 1  # the newest seq, this unit's included
            before = min(own) - 1 if own else top  # the newest before this unit's events
            if seen is None or seen >= before:
                if seen is None or seen < top:
                    mark_seen(self._conn, sid, self.actor, top, self.now())
                    if known is not None and known.seen_read:
                        known.seen = top
                    else:
                        self._seen_here[sid] = top
                return Changes()
        upto = min(own) - 1 if own else None
        changes = look(self._conn, sid, self.actor, upto=upto, mark=False)
        if changes.upto and not changes:
            mark_seen(self._conn, sid, self.actor, changes.upto, self.now())
        elif changes.upto:
            self.unmarked.append(changes)
        return changes

    def _seen_position(self, sid: str) -> int | None:
        """The newest seq of ``sid`` this unit's actor had seen (None: never looked)."""
        assert self.actor is not None
        known = self._known.get(sid)
        if known is not None and known.seen_read:
            return known.seen
        seen = self._seen_here[sid] = seen_seq(self._conn, sid, self.actor)
        return seen

    def _refuse_unseen(self, sid: str, ids: Sequence[str], goal: bool = False) -> None:
        """No blind overrides: refuse (``ChangedSinceSeen``) a write to tasks ``ids`` (or
        the goal) that another actor changed after this unit's actor last looked. The
        notice it carries is marked seen once shown, so the same write again succeeds. An
        actor that never looked at the session, and writes without an actor, pass."""
        if self.actor is None or not (ids or goal):
            return
        seen = self._seen_position(sid)
        top = self._peek_seq(sid) - 1
        if seen is None or seen >= top:
            return
        found = [
            rows.event(r)
            for r in self._conn.execute(
                f"SELECT {rows.EVENT_COLS} FROM events WHERE sid = ? AND seq > ? "
                "AND (actor IS NULL OR actor <> ?) "
                "AND type IN ('task_status_changed', 'task_updated', "
                "'task_claimed', 'task_after_changed', 'goal_set', 'goal_updated') "
                "ORDER BY seq",
                (sid, seen, self.actor),
            )
        ]
        wanted = set(ids)
        hits = [
            e
            for e in found
            if e.payload.get("task_id") in wanted
            or (goal and e.type in (EventType.GOAL_SET, EventType.GOAL_UPDATED))
        ]
        if not hits:
            return
        tasks = sorted({str(e.payload["task_id"]) for e in hits if "task_id" in e.payload})
        names = []
        if tasks:
            names.append(("task " if len(tasks) == 1 else "tasks ") + ", ".join(tasks))
        if goal and any(e.type in (EventType.GOAL_SET, EventType.GOAL_UPDATED) for e in hits):
            names.append("the goal")
        who = ", ".join(sorted({e.actor or "someone" for e in hits}))
        changes = look(self._conn, sid, self.actor, mark=False)
        raise ChangedSinceSeen(
            f"{who} changed {' and '.join(names)} after you last looked; nothing was written.",
            changes,
            sid=sid,
            ids=tasks,
            goal="the goal" in names,
            seqs=[e.seq for e in hits],
            by=sorted({e.actor for e in hits if e.actor}),
        )

    # -- idempotency keys ----------------------------------------------------------------

    def replayed(self, actor: str, key: str, command: str, args: str) -> dict[str, Any] | None:
        """What the first request with ``key`` (of ``actor``) answered, or None when the key
        is new. Runs first in the unit, under its write lock.

        Raises:
            InvalidArgument: the key was used for another command or other arguments
                (``field="key"``).
        """
        if self._ahead is not None and self._ahead.key_later(actor, key):
            return None  # checked by the key's insert, in the unit's one flight
        row = self._conn.execute(
            "SELECT command, args, sid, result, at FROM requests WHERE actor = ? AND key = ?",
            (actor, key),
        ).fetchone()
        if row is None:
            return None
        if row[0] != command or row[1] != args:
            raise InvalidArgument(
                f"That idempotency key was first used at {row[4]} for another request "
                f"({row[0]}); use a new key for a new request.",
                field="key",
                first_command=row[0],
                first_at=row[4],
            )
        answer = json.loads(row[3]) if isinstance(row[3], str) else dict(row[3])
        return {"sid": row[2], "at": row[4], "answer": answer}

    def remember(self, actor: str, key: str, command: str, args: str) -> None:
        """Record ``key`` with what this unit answers (:attr:`answer`), in this unit."""
        sid = next((e.sid for e in self.events), None)
        self._conn.execute(
            "INSERT INTO requests (actor, key, command, args, sid, result, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                actor,
                key,
                command,
                args,
                sid,
                json.dumps(self.answer, ensure_ascii=False, separators=(",", ":")),
                self.now(),
            ),
        )


def _check_dir(real: str, shown: str) -> None:
    """A session's directory must be one, and a project's: never a folder that holds every
    project (``/``, the home folder, one above it: :func:`store.paths.broad_folders`)
    (``InvalidArgument``, ``field="dir"``; ``cause="holds_every_project"``)."""
    if os.path.isdir(real):
        if real in broad_folders():
            what = "the root folder" if real == os.path.sep else "a home folder or one above it"
            raise InvalidArgument(
                f"{shown} is {what}: it holds every project, so a plan there would be every "
                "project's. Plan in the project's own folder.",
                field="dir",
                dir=shown,
                cause="holds_every_project",
            )
        return
    what = "is not a directory" if os.path.exists(real) else "does not exist"
    raise InvalidArgument(f"That directory {what}.", field="dir", dir=shown)


def _checked_edit(title: str | None, description: str | None) -> tuple[str | None, str | None]:
    """The new title and/or description of an edit, checked; at least one is required."""
    if title is None and description is None:
        raise InvalidArgument(
            "Say what to change: a new title, a new description, or both.",
            field="title",
            fields=["title", "description"],
        )
    return (
        check_title(title) if title is not None else None,
        check_description(description) if description is not None else None,
    )


__all__ = ["Replayed", "UnitOfWork"]
