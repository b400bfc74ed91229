"""The command table: every np command, defined once (SPEC §5).

A command is a name, the fields its one JSON-object argument may carry, and a handler
that runs its writes in exactly one unit of work and returns a plain JSON object. The CLI
and the LSP server only translate their input into ``execute(name, ctx, args)`` and print
or send what comes back.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

from server.text import render
from server.text.guide import Door, guide
from store import (
    ChangedSinceSeen,
    Changes,
    Event,
    EventType,
    InvalidArgument,
    NewTask,
    NoActiveSession,
    NpError,
    Plan,
    Session,
    Status,
    StatusChange,
    Store,
    TaskNotFound,
    UnitOfWork,
)
from store.errors import WriteConflict
from store.paths import canonical_dir, dir_key
from store.text import is_blank
from store.unit import EVIDENCE_STATUSES, Replayed

from . import wire
from .args import Args, check_item_keys, item_text, session_id, task_id

JSON = dict[str, Any]


class Context:
    """What a front door supplies for one call. A plain class: this module is on every CLI
    write's import path, and a NamedTuple or an attrs class compiles code when defined."""

    __slots__ = ("actor", "cmd", "cwd", "door", "preview", "store", "stream")

    def __init__(
        self,
        store: Store,
        cwd: str | None,
        cmd: str,
        preview: bool = False,
        door: Door = "json",
        actor: str | None = None,
        stream: bool = False,
    ) -> None:
        self.store = store
        self.cwd = cwd  # the directory to act in when the argument names none
        self.cmd = cmd  # recorded in each event: the CLI argv, or "lsp:<command> (<client>)"
        # The front door shows only the plan's text (the CLI without --json): a long plan
        # is then read as a bounded preview, whose "tasks" hold just the tasks the text shows.
        self.preview = preview
        # Which door is asking: the ``guide`` texts are worded for it (CLI flags and ``np``
        # verbs, or JSON fields and ``np.*`` commands; server.text.guide).
        self.door: Door = door
        # Who is asking: recorded on every event it writes ("agent", "Neovim" …), and whose
        # "changed since you last looked" notice a result carries. None: not tracked.
        self.actor = actor
        # The door writes a long result as it is read (the CLI): np.events' "events" and
        # np.export's "content" are then lazy iterables (read page by page, while the store
        # stays open), not lists and strings, so memory stays flat however long the log is.
        # Other doors send one message and get the whole value.
        self.stream = stream


Handler = Callable[[Context, Args], JSON]


class Command:
    """One entry of the table: its name, the argument fields it takes, its handler, and
    whether it writes (a plain class for the reason :class:`Context` is one)."""

    __slots__ = ("fields", "handler", "name", "writes")

    def __init__(self, name: str, fields: frozenset[str], handler: Handler, writes: bool) -> None:
        self.name = name
        self.fields = fields
        self.handler = handler
        self.writes = writes


COMMANDS: dict[str, Command] = {}


def command(name: str, *fields: str, writes: bool = False) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        # Every write takes an idempotency key: the same key again answers as the first
        # time and writes nothing.
        taken = frozenset({*fields, "key"}) if writes else frozenset(fields)
        COMMANDS[name] = Command(name, taken, handler, writes)
        return handler

    return register


KEY_MAX = 200
WRITE_ATTEMPTS = 10  # a write whose reads another writer overtook runs again, this often
# (each refusal means another write landed; PostgreSQL takes the session's lock after 3
# refusals in a row, so the 4th run is not overtaken: every writer finishes)


def execute(name: str, ctx: Context, raw: object, *, mark: bool = True) -> JSON:
    """Run one command. Raises ``store.NpError`` subclasses for every user-facing failure.

    The notices the answer carries are marked seen once it is built (``mark``); a door that
    marks them only once the answer is out passes ``mark=False`` and calls
    ``ctx.store.mark_seen()`` itself. An answer that fails leaves them unseen.
    """
    cmd = COMMANDS.get(name)
    if cmd is None:
        raise InvalidArgument(
            f"Unknown command {name[:60]!r}; the commands are {', '.join(sorted(COMMANDS))}.",
            field="command",
        )
    args = Args(raw, cmd.fields)
    store = ctx.store
    request = _request(ctx, name, args) if cmd.writes else None
    store.read_back_preview = ctx.preview  # the plan a write reads back (see _written)
    store.reruns = True  # a unit refused with WriteConflict runs again, below
    try:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            store.pending.clear()
            store.request = request
            before = store.commits
            try:
                result = cmd.handler(ctx, args)
                break
            except WriteConflict:
                # Another writer got there between this unit's reads and its writes
                # (PostgreSQL decides without a lock, or from what its last unit left):
                # nothing was written; run it again, on the same connection, in every door.
                # Not the runner's retry (server.commands.runner): that one is about the
                # connection (found dead, so reopened), runs once, and covers a long-lived
                # door's whole job, the answer it streams after this returns included; this
                # one is about the plan, runs up to WRITE_ATTEMPTS times, and is what lets
                # the engine take the session's lock after a few refusals.
                if attempt == WRITE_ATTEMPTS or store.commits != before:
                    raise
    except Replayed as first:
        store.pending.clear()
        return _replay(ctx, name, first.first)
    except ChangedSinceSeen as exc:
        _show_changes(ctx, exc)
        raise
    except BaseException:
        store.pending.clear()  # the answer failed: its notice stays for the next one
        raise
    finally:
        store.request = None
        store.reruns = False
    if mark:
        store.mark_seen()
    return result


def _request(ctx: Context, name: str, args: Args) -> tuple[str, str, str, str] | None:
    """The idempotency key of a write, as the store keeps it: (actor, key, command, a
    digest of the other arguments)."""
    key = args.text("key")
    if key is None:
        return None
    if not 1 <= len(key) <= KEY_MAX or not key.isprintable():
        raise InvalidArgument(
            f"An idempotency key is 1 to {KEY_MAX} printable characters.", field="key"
        )
    import hashlib
    import json

    rest = {k: v for k, v in args.raw.items() if k != "key"}
    if "dir" not in rest and ctx.cwd is not None:
        rest["dir"] = ctx.cwd
    digest = hashlib.sha256(
        json.dumps(rest, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()
    return (ctx.actor or "", key, name, digest)


def _replay(ctx: Context, name: str, first: JSON) -> JSON:
    """The answer to a write whose key was used before: what the first one answered (its
    ids), with the plan as it is now; nothing was written."""
    answer = dict(first.get("answer") or {})
    sid = first.get("sid")
    base: JSON = {}
    if name == "np.task.next":
        return {**_next_result(ctx, answer), "replayed": True, "first_at": first.get("at")}
    if isinstance(sid, str) and name != "np.session.archive":
        with contextlib.suppress(NoActiveSession, InvalidArgument):
            base = _plan(ctx, sid, brief=True)
    return {**base, **answer, "changes": [], "replayed": True, "first_at": first.get("at")}


def _show_changes(ctx: Context, exc: ChangedSinceSeen) -> None:
    """A refused blind write shows what changed exactly as a notice does (``changes``,
    ``notice``), and marks it seen: the same write again is an informed decision."""
    changes = exc.changes if isinstance(exc.changes, Changes) else Changes()
    exc.data.update(wire.with_changes({}, changes))
    ctx.store.pending = [changes]
    ctx.store.mark_seen()


# -- helpers -------------------------------------------------------------------------------


def _session(ctx: Context, a: Args) -> Session:
    """A read's session: ``sid`` when given, else the active one at ``dir`` (parent walk)."""
    sid = session_id(a.text("sid"))
    if sid is not None:
        return ctx.store.session(sid)
    return ctx.store.resolve(a.directory(ctx.cwd), ctx.actor)


def _plan(ctx: Context, sid: str, *, brief: bool = False, legend: bool | None = None) -> JSON:
    store = ctx.store
    found = store.plan_preview(sid) if ctx.preview else store.plan(sid)
    return cast(JSON, wire.plan_json(found, door=ctx.door, brief=brief, legend=legend))


def _target(ctx: Context, a: Args, unit: UnitOfWork) -> Session:
    """A write's session: ``sid`` when given (any scope's: the operator's page acts on
    every machine's plans), else the active one at ``dir`` (parent walk). An archived
    ``sid`` is refused by the write itself."""
    sid = session_id(a.text("sid"))
    if sid is not None:
        return unit.load(sid)
    return unit.active_for(a.directory(ctx.cwd))


def _look(ctx: Context, sid: str) -> Changes:
    """A read's notice: what others changed since this actor last looked (then seen)."""
    return ctx.store.look(sid, ctx.actor, defer=True) if ctx.actor else Changes()


def _written(
    ctx: Context, sid: str, changes: Changes, extra: JSON | None = None, *, legend: bool = False
) -> JSON:
    """A write's result, after the commit: the brief plan as it is now (the goal's title;
    the legend only if ``legend``), ``extra``, and the notice that ``unit.look`` gathered
    (and marked seen) inside the unit of work. When someone else set or changed the goal
    (or the notice is folded), the goal is shown whole: the agent has not read it yet."""
    goal_news = changes.folded > 0 or any(e.type in _GOAL_EVENTS for e in changes.events)
    plan = _plan(ctx, sid, brief=not goal_news, legend=legend)
    return wire.with_changes({**plan, **(extra or {})}, changes)


_GOAL_EVENTS = (EventType.GOAL_SET, EventType.GOAL_UPDATED)


def _resume_guide(plan: Plan, door: Door) -> str:
    if plan.goal is None:
        return guide("resume_no_goal", door)
    if not plan.tasks:
        return guide("resume_no_tasks", door)
    return guide("resume", door)


# -- sessions ------------------------------------------------------------------------------


@command("np.session.start", "dir", writes=True)
def session_start(ctx: Context, a: Args) -> JSON:
    directory = a.directory(ctx.cwd)
    with ctx.store.transaction(ctx.cmd, ctx.actor) as unit:
        session = unit.start_session(directory)
        changes = unit.look(session.sid)  # the starting point of this actor's notices
    return wire.with_changes(
        {**_plan(ctx, session.sid), "guide": guide("start", ctx.door)}, changes
    )


@command("np.session.resume", "dir")
def session_resume(ctx: Context, a: Args) -> JSON:
    sid = ctx.store.resolve(a.directory(ctx.cwd), ctx.actor).sid
    changes = _look(ctx, sid)
    plan = ctx.store.plan_preview(sid) if ctx.preview else ctx.store.plan(sid)
    result = {**wire.plan_json(plan, door=ctx.door), "guide": _resume_guide(plan, ctx.door)}
    return wire.with_changes(result, changes)


@command("np.session.archive", "dir", "sid", writes=True)
def session_archive(ctx: Context, a: Args) -> JSON:
    sid = session_id(a.text("sid"))
    with ctx.store.transaction(ctx.cmd, ctx.actor) as unit:
        if sid is not None:
            target = unit.load(sid)
        else:
            # Archiving is idempotent by directory too: a directory whose session is
            # already archived answers with that session (already_archived: true).
            directory = a.directory(ctx.cwd)
            found = unit.find_active(directory) or unit.last_archived(directory)
            target = found if found is not None else unit.active_for(directory)
        already = not target.active
        session = unit.archive(target.sid)
        unit.look(session.sid)  # every write marks what its actor has seen
    return {"session": wire.session_json(session), "already_archived": already}


@command("np.session.move", "dir", "sid", "reason", writes=True)
def session_move(ctx: Context, a: Args) -> JSON:
    """For the operator: the session ``sid`` (default: the one whose folder was renamed or
    moved to ``dir``) now lives at ``dir``, for ``reason``."""
    directory = a.directory(ctx.cwd)
    sid = session_id(a.text("sid"))
    reason = a.text("reason")
    with ctx.store.transaction(ctx.cmd, ctx.actor) as unit:
        if sid is None:
            found, moved = unit.locate(directory)
            here = dir_key(canonical_dir(directory))
            if moved is None and found is not None and found.dir == here:
                sid = found.sid  # already here: moving it here again changes nothing
            elif moved is None:
                # A plan condition (nothing to move here), not a usage error.
                raise NoActiveSession(
                    "No session's folder was moved here: no active session was started in "
                    "this folder, under any name.",
                    field="sid",
                    action="session.move",
                    dir=here,
                )
            else:
                sid = moved.sid
        session = unit.move_session(sid, directory, reason)
        already = not unit.events
        changes = unit.look(session.sid)  # the mover's own move is no news to it
    return wire.with_changes(
        {"session": wire.session_json(session), "already_here": already}, changes
    )


@command("np.session.join", "dir", "sid", writes=True)
def session_join(ctx: Context, a: Args) -> JSON:
    """From another folder (a linked git worktree, a clone elsewhere or on another machine),
    work on an active plan: ``sid``, or without it the plan of this linked worktree's main
    worktree. Recorded as ``session_joined``; from then on np finds the plan from here."""
    from store.paths import main_worktree

    directory = a.directory(ctx.cwd)
    sid = session_id(a.text("sid"))
    with ctx.store.transaction(ctx.cmd, ctx.actor) as unit:
        if sid is None:
            main = main_worktree(directory)
            if main is None:
                raise InvalidArgument(
                    "Name the session to join: this folder is not a linked git worktree, so "
                    "there is no main worktree whose plan it could join.",
                    field="sid",
                    required=True,
                )
            found = unit.find_active(main)
            if found is None:
                raise NoActiveSession(
                    f"The main worktree at {dir_key(main)} has no active plan to join.",
                    field="dir",
                    dir=dir_key(main),
                )
            sid = found.sid
        session, joined = unit.join_session(sid, directory)
        changes = unit.look(session.sid)
    here = dir_key(canonical_dir(directory))
    extra = {"joined": joined, "dir": here, "sid": session.sid}
    return _written(ctx, session.sid, changes, extra)


@command("np.session.list", "state", "limit")
def session_list(ctx: Context, a: Args) -> JSON:
    state = a.text("state") or "active"
    sessions = ctx.store.listing(state, a.integer("limit", minimum=1))
    listed = [{**wire.session_json(s), "goal_title": title} for s, title in sessions]
    return {"sessions": listed, "state": state}


@command("np.session.overview", "state", "limit", "offset", "sid")
def session_overview(ctx: Context, a: Args) -> JSON:
    """For the operator: a page of sessions, most recently updated first (or the one
    session ``sid``), each with its goal's title, task counts by status, event count and
    the actors working on it."""
    state = a.text("state") or "active"
    limit = a.integer("limit", minimum=1, maximum=OVERVIEW_LIMIT) or OVERVIEW_PAGE
    offset = a.integer("offset") or 0
    sid = a.text("sid")
    sessions = (
        [ctx.store.session(sid)] if sid is not None else ctx.store.sessions(state, limit, offset)
    )
    found = ctx.store.overview([s.sid for s in sessions])
    out = []
    for s in sessions:
        entry = found[s.sid]
        counts = {str(status): entry["counts"].get(str(status), 0) for status in Status}
        out.append(
            {
                **wire.session_json(s),
                "goal_title": entry["goal"],
                "counts": counts,
                "tasks": sum(counts.values()),
                "events": entry["events"],
                "actors": sorted(
                    entry["actors"].values(),
                    key=lambda x: x["last_write_at"] or "",
                    reverse=True,
                ),
            }
        )
    total = len(sessions) if sid is not None else ctx.store.count_sessions(state)
    return {"sessions": out, "total": total, "offset": offset}


OVERVIEW_LIMIT = 200  # sessions per call at most
OVERVIEW_PAGE = 50  # when the call names no limit


# -- plan and goal -------------------------------------------------------------------------


@command("np.plan", "dir", "sid")
def plan(ctx: Context, a: Args) -> JSON:
    # The session, its plan and the notice in one snapshot (one round trip on PostgreSQL).
    sid = session_id(a.text("sid"))
    if sid is None:
        found, changes = ctx.store.plan_here(a.directory(ctx.cwd), ctx.actor, preview=ctx.preview)
    else:
        sid = ctx.store.session(sid).sid
        found, changes = ctx.store.plan_and_notice(sid, ctx.actor, preview=ctx.preview)
    return wire.with_changes(cast(JSON, wire.plan_json(found, door=ctx.door)), changes)


@command("np.goal.set", "dir", "title", "description", writes=True)
def goal_set(ctx: Context, a: Args) -> JSON:
    title = a.required_text("title")
    description = a.text("description") or ""
    if is_blank(description):
        raise InvalidArgument(
            "Give the goal a thorough description: the issue reference, the files and "
            "symbols involved, and the constraints, so a fresh context can resume.",
            field="description",
        )
    with ctx.store.transaction(ctx.cmd, ctx.actor) as unit:
        session = unit.active_for(a.directory(ctx.cwd))
        unit.set_goal(session.sid, title, description)
        changes = unit.look(session.sid)
    return _written(ctx, session.sid, changes, {"guide": guide("goal_set", ctx.door)})


@command("np.goal.change", "dir", "sid", "title", "description", "reason", writes=True)
def goal_change(ctx: Context, a: Args) -> JSON:
    with ctx.store.transaction(ctx.cmd, ctx.actor) as unit:
        session = _target(ctx, a, unit)
        unit.change_goal(session.sid, a.text("title"), a.text("description"), a.text("reason"))
        changes = unit.look(session.sid)
    return _written(ctx, session.sid, changes)


# -- tasks ---------------------------------------------------------------------------------

_TASK_KEYS = frozenset({"title", "description", "after"})
_UPDATE_KEYS = frozenset({"id", "status", "reason", "take_over"})


def _after(item: JSON, where: str) -> tuple[str, ...]:
    """A task's ``after``: a list of task ids (``#N``: the N-th task of the same batch)."""
    value = item.get("after")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(
            f'In {where}, after must be a list of task ids, e.g. ["a1b2c3"].', field="after"
        )
    return tuple(v.strip().lower() for v in value if v.strip())


@command("np.task.list", "dir", "sid", "status", "ids")
def task_list(ctx: Context, a: Args) -> JSON:
    statuses = [Status.parse(s) for value in a.strings("status") for s in value.split(",") if s]
    ids = [task_id(i, "ids") for i in a.strings("ids")]
    sid = _session(ctx, a).sid
    changes = _look(ctx, sid)
    tasks = ctx.store.tasks(sid, statuses)
    if ids:  # these tasks, whole (descriptions and reasons uncut), in the order asked
        by_id = {t.id: t for t in tasks}
        missing = [i for i in dict.fromkeys(ids) if i not in by_id]
        if missing:
            raise TaskNotFound(
                f"No task with id {', '.join(missing)} in this session.",
                field="ids",
                ids=missing,
                sid=sid,
            )
        tasks = [by_id[i] for i in dict.fromkeys(ids)]
    text = render.tasks_text(tasks, whole=bool(ids), door=ctx.door)
    return wire.with_changes({"tasks": [wire.task_json(t) for t in tasks], "text": text}, changes)


@command("np.task.add", "dir", "sid", "tasks", writes=True)
def task_add(ctx: Context, a: Args) -> JSON:
    items = []
    for n, item in enumerate(a.objects("tasks"), 1):
        where = f"task {n}"
        check_item_keys(item, _TASK_KEYS, where)
        title = item_text(item, "title", where, required=True)
        assert title is not None
        description = item_text(item, "description", where) or ""
        items.append(NewTask(title, description, _after(item, where)))
    with ctx.store.transaction(ctx.cmd, ctx.actor) as unit:
        session = _target(ctx, a, unit)
        added = unit.add_tasks(session.sid, items)
        changes = unit.look(session.sid)
        unit.answer = {"added": [t.id for t in added]}
    extra = {"added": [t.id for t in added], "guide": guide("tasks_added", ctx.door)}
    return _written(ctx, session.sid, changes, extra, legend=True)  # new tasks: the legend


@command("np.task.update", "dir", "sid", "updates", "reason", "take_over", writes=True)
def task_update(ctx: Context, a: Args) -> JSON:
    # The batch's reason goes to the updates that need one (failed, cancelled); it reaches
    # the others only when none needs it (then it is clearly theirs). An update's own
    # reason always wins. A completion is never logged with a cancel's reason.
    shared_reason = a.text("reason")
    parsed = []
    for n, item in enumerate(a.objects("updates"), 1):
        where = f"update {n}"
        check_item_keys(item, _UPDATE_KEYS, where)
        raw_id = item_text(item, "id", where, required=True)
        status = item_text(item, "status", where, required=True)
        reason = item_text(item, "reason", where)
        assert raw_id is not None and status is not None
        take = item.get("take_over", a.flag("take_over"))
        if not isinstance(take, bool):
            raise InvalidArgument(
                f"In {where}, take_over must be true or false.", field="take_over"
            )
        parsed.append((task_id(raw_id, "id", where), Status.parse(status), reason, take))
    any_needs = any(status.needs_reason for _, status, _, _ in parsed)
    changes = [
        StatusChange(
            tid,
            status,
            reason
            if reason is not None
            else (shared_reason if status.needs_reason or take or not any_needs else None),
            take,
        )
        for tid, status, reason, take in parsed
    ]
    evidence = _evidence(ctx, a, changes)
    with ctx.store.transaction(ctx.cmd, ctx.actor) as unit:
        session = _target(ctx, a, unit)
        unit.set_statuses(session.sid, changes, evidence)
        seen = unit.look(session.sid)
    return _written(ctx, session.sid, seen)


def _evidence(ctx: Context, a: Args, changes: list[StatusChange]) -> JSON:
    """The working tree's git facts for the tasks moving to in progress or completed (by
    id), read before the write's lock is taken; at completion, with what changed since the
    task started. Bounded in time (server.commands.evidence); empty when nothing moves so.
    The tree is the folder acted in, or with ``sid`` that session's folder."""
    moving = [c for c in changes if c.status in EVIDENCE_STATUSES]
    if not moving:
        return {}
    from store.paths import dir_path

    from . import evidence

    deadline = time.monotonic() + evidence.TIME_LIMIT
    sid = a.text("sid")
    try:
        directory = (
            dir_path(ctx.store.session(sid).dir) if sid is not None else a.directory(ctx.cwd)
        )
    except NpError:
        return {}  # the write itself says what is wrong
    now = (
        evidence.facts(directory, deadline)
        if os.path.isdir(directory)
        else {"skipped": "the session's folder is not on this machine"}
    )
    finishing = [c.id for c in moving if c.status is Status.COMPLETED]
    started: JSON = {}
    if finishing and "skipped" not in now:  # the session is looked up only when needed
        try:
            if sid is None:
                sid = ctx.store.resolve(directory, ctx.actor).sid
        except NpError:
            return {}  # the write itself says what is wrong
        started = ctx.store.started_facts(sid, finishing)
    out: JSON = {}
    for c in moving:
        facts = dict(now)
        if c.status is Status.COMPLETED:
            start = started.get(c.id)
            facts["change"] = (
                (
                    evidence.change(directory, start, now, deadline)
                    if start is not None
                    else {"skipped": "no facts were recorded when it started"}
                )
                if "skipped" not in now
                else {"skipped": now["skipped"]}
            )
        out[c.id] = facts
    return out


@command("np.task.edit", "dir", "sid", "id", "title", "description", "reason", writes=True)
def task_edit(ctx: Context, a: Args) -> JSON:
    edited = task_id(a.required_text("id"))
    with ctx.store.transaction(ctx.cmd, ctx.actor) as unit:
        session = _target(ctx, a, unit)
        unit.edit_task(
            session.sid, edited, a.text("title"), a.text("description"), a.text("reason")
        )
        changes = unit.look(session.sid)
    return _written(ctx, session.sid, changes)


# -- questions -----------------------------------------------------------------------------


@command("np.task.ask", "dir", "id", "question", "choices", "withdraw", writes=True)
def task_ask(ctx: Context, a: Args) -> JSON:
    """An agent attaches a question (and optional choices) to a task and keeps working; or
    withdraws it (``withdraw``). Never waits for the answer."""
    asked_on = task_id(a.required_text("id"))
    withdraw = a.flag("withdraw")
    if not withdraw:
        question = a.required_text("question")
        choices = a.strings("choices")
    with ctx.store.transaction(ctx.cmd, ctx.actor) as unit:
        session = unit.active_for(a.directory(ctx.cwd))
        if withdraw:
            task = unit.withdraw_ask(session.sid, asked_on)
        else:
            task = unit.ask(session.sid, asked_on, question, choices)
        changes = unit.look(session.sid)
    done = "withdrawn" if withdraw else "asked"
    result: JSON = {"sid": session.sid, "task": wire.task_json(task), done: True}
    result["text"] = (
        f"Question on task {task.id} withdrawn." if withdraw else "Asked; keep working."
    )
    return wire.with_changes(result, changes)


@command("np.task.answer", "dir", "sid", "id", "answer", writes=True)
def task_answer(ctx: Context, a: Args) -> JSON:
    """The operator answers a task's open question (a choice or free text). The answer is
    an event: it reaches the asking agent once, first, in its next output."""
    answered_on = task_id(a.required_text("id"))
    answer = a.required_text("answer")
    with ctx.store.transaction(ctx.cmd, ctx.actor) as unit:
        target = _target(ctx, a, unit)
        task = unit.answer_ask(target.sid, answered_on, answer)
        event = unit.events[-1]
        unit.look(target.sid)
    asked_by = event.payload.get("asked_by")
    return {
        "sid": target.sid,
        "task": wire.task_json(task),
        "answered": {**wire.answer_json(event), "asked_by": asked_by},
        "text": f"Answered the question on task {task.id}; {asked_by or 'the agent'} gets "
        "the answer first in its next output.",
    }


@command("np.questions", "dir", "sid", "all")
def questions(ctx: Context, a: Args) -> JSON:
    """For the operator: the open questions of this folder's session (``all``: of every
    active session), oldest first, each with its receipt."""
    sid = None if a.flag("all") else _session(ctx, a).sid
    found = ctx.store.open_asks(sid)
    out = []
    for session, task in found:
        assert task.ask is not None
        out.append(
            {
                "sid": session.sid,
                "dir": session.dir,
                "task_id": task.id,
                "title": task.title,
                **task.ask.to_dict(),
            }
        )
    return {"questions": out, "text": render.questions_text(out)}


@command("np.task.wait", "dir", "id", "after", "reason", writes=True)
def task_wait(ctx: Context, a: Args) -> JSON:
    """Change what a task waits for (``after``: ids; empty: nothing), for ``reason``."""
    directory = a.directory(ctx.cwd)
    tid = task_id(a.required_text("id"))
    after = _after({"after": a.raw.get("after") or []}, "the request")
    with ctx.store.transaction(ctx.cmd, ctx.actor) as unit:
        session = unit.active_for(directory)
        unit.set_after(session.sid, tid, after, a.text("reason"))
        changes = unit.look(session.sid)
    return _written(ctx, session.sid, changes)


@command("np.task.next", "dir", writes=True)
def task_next(ctx: Context, a: Args) -> JSON:
    """Claim the first ready task for this actor and show it whole, with what to do next;
    or say exactly why none is ready (nothing is written then)."""
    with ctx.store.transaction(ctx.cmd, ctx.actor) as unit:
        session = unit.active_for(a.directory(ctx.cwd))
        task, why, facts = unit.next_task(session.sid)
        changes = unit.look(session.sid)
        unit.answer = {"sid": session.sid, "task_id": task.id if task else None}
        if task is None:
            unit.answer.update({"why": why, "waiting": facts})
    return wire.with_changes(_next_result(ctx, unit.answer), changes)


def _next_result(ctx: Context, answer: JSON) -> JSON:
    """What ``np.task.next`` answers: the task claimed, whole, and what to do with it; or
    why none is ready."""
    claimed = answer.get("task_id")
    sid = str(answer.get("sid") or "")
    if not claimed:
        why = str(answer.get("why") or "No task is ready.")
        return {"task": None, "why": why, "waiting": answer.get("waiting") or [], "text": why}
    found = [t for t in ctx.store.tasks(sid) if t.id == claimed]
    if not found:
        raise TaskNotFound(f"No task with id {claimed} in this session.", field="id", ids=[claimed])
    task = found[0]
    # the task whole, without a legend (one glyph: in progress)
    text = render.task_line(task, description=True, whole=True, door=ctx.door)
    return {
        "task": wire.task_json(task),
        "text": text,
        "guide": guide("next", ctx.door).format(id=task.id),
    }


# -- history -------------------------------------------------------------------------------


@command("np.events", "dir", "sid", "after_seq", "limit", "newest_first")
def events(ctx: Context, a: Args) -> JSON:
    session = _session(ctx, a)
    total = ctx.store.last_seq(session.sid)  # gapless: the number of events
    after, limit = a.integer("after_seq") or 0, a.integer("limit", minimum=1)
    newest_first = a.flag("newest_first")
    if ctx.stream:
        found: Iterable[Event] = ctx.store.iter_events(
            session.sid, after_seq=after, upto=total, limit=limit, newest_first=newest_first
        )
        return {
            "sid": session.sid,
            "events": _with_receipts(ctx, session.sid, found),
            "total": total,
        }
    found = ctx.store.events(
        session.sid, after_seq=after, limit=limit, newest_first=newest_first, before_seq=total + 1
    )
    receipts = ctx.store.receipts(session.sid, found)
    return {
        "sid": session.sid,
        "events": [
            {**wire.event_json(e), "receipts": wire.receipts_json(receipts.get(e.seq, []))}
            for e in found
        ],
        "total": total,
    }


def _with_receipts(ctx: Context, sid: str, found: Iterable[Event]) -> Iterator[JSON]:
    """Streamed events with their receipts, read a page at a time between the event pages
    (each a short read of its own), so memory stays flat however long the log is."""
    page: list[Event] = []

    def flush() -> Iterator[JSON]:
        receipts = ctx.store.receipts(sid, page)
        for e in page:
            yield {**wire.event_json(e), "receipts": wire.receipts_json(receipts.get(e.seq, []))}
        page.clear()

    for event in found:
        page.append(event)
        if len(page) >= RECEIPT_PAGE:
            yield from flush()
    yield from flush()


RECEIPT_PAGE = 200  # streamed events whose receipts are read together


EXPORT_FORMATS = {"markdown": "markdown", "md": "markdown", "json": "json"}


def export_document(ctx: Context, sid: str) -> JSON:
    """The JSON export: the plan plus the full event log, self-describing."""
    plan = ctx.store.plan(sid)
    log = ctx.store.events(sid)
    return {**_export_head(plan), "events": [wire.event_json(e) for e in log]}


def _export_head(plan: Plan) -> JSON:
    return {"np_export": 1, **cast(JSON, wire.plan_json(plan, text=False))}


@command("np.export", "dir", "sid", "format")
def export(ctx: Context, a: Args) -> JSON:
    fmt = EXPORT_FORMATS.get((a.text("format") or "markdown").lower())
    if fmt is None:
        raise InvalidArgument("The format must be markdown or json.", field="format")
    session = _session(ctx, a)
    sid = session.sid
    content: str | Iterator[str]
    if ctx.stream:  # read and written page by page (Context.stream)
        plan = ctx.store.plan(sid)
        log = ctx.store.iter_events(sid)
        if fmt == "json":
            content = render.export_json_parts(_export_head(plan), map(wire.event_json, log))
        else:
            content = render.export_markdown_parts(plan, log)
    elif fmt == "json":
        content = render.export_json(export_document(ctx, sid))
    else:
        content = render.export_markdown(ctx.store.plan(sid), ctx.store.events(sid))
    return {"format": fmt, "sid": sid, "content": content}
