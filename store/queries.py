"""Read queries shared by :class:`~store.store.Store` and the unit of work.

Each takes an open connection and runs inside whatever transaction the caller holds (a
deferred read for ``Store``, ``BEGIN IMMEDIATE`` for a unit of work).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from . import rows
from .engine import Conn, Cursor, Params, Row
from .errors import InvalidArgument, NoActiveSession
from .paths import (
    ancestors,
    broad_folders,
    canonical_dir,
    dir_key,
    dir_path,
    expand_home,
    file_identity,
)
from .types import NOTICE_LIMIT, Changes, Event, EventType, Session, Task

# "No limit" where SQL needs one (an OFFSET without a LIMIT is not portable): the largest
# LIMIT both engines take.
NO_LIMIT = 2**63 - 1

# The two reads of a plan (PostgreSQL sends both before it waits for either); a preview
# appends " LIMIT ?" (no LIMIT clause for "all" is the portable spelling).
HEAD_SQL = (
    f"SELECT {rows.SESSION_COLS}, g.title, g.description, g.updated_at "
    "FROM sessions s LEFT JOIN goals g USING (sid) WHERE s.sid = ?"
)
TASKS_SQL = f"SELECT {rows.TASK_COLS} FROM tasks WHERE sid = ? ORDER BY created_seq"
AFTER_SQL = "SELECT task_id, after_id FROM task_after WHERE sid = ? ORDER BY task_id, after_id"


def plan_reads(sid: str) -> list[tuple[str, tuple[object, ...]]]:
    """The statements a whole plan of ``sid`` is read with (see :func:`preview_reads`)."""
    return [(HEAD_SQL, (sid,)), (TASKS_SQL, (sid,)), (AFTER_SQL, (sid,))]


def preview_reads(sid: str, limit: int) -> list[tuple[str, tuple[object, ...]]]:
    """The statements a plan preview of ``sid`` starts with (an engine may send them
    together, or with the commit of the unit of work before it)."""
    return [(HEAD_SQL, (sid,)), (TASKS_SQL + " LIMIT ?", (sid, limit + 1)), (AFTER_SQL, (sid,))]


def search_paths(directory: str) -> list[str]:
    """The directories whose session applies at ``directory``, nearest first: each
    ancestor of the path as given (the shell's logical ``$PWD``, where ``..`` and symlinks
    are not yet resolved), canonicalised; then each ancestor of its canonical path. For
    ``proj/lib`` where ``lib`` links elsewhere, ``proj`` is found as well as the link's
    target's parents."""
    given = os.path.abspath(expand_home(directory))
    real = canonical_dir(given)
    if real == given:
        found = ancestors(real)  # no symlink on the way: both chains are this one
    else:
        out = [canonical_dir(p) for p in ancestors(given)]
        found = list(dict.fromkeys([*out, *ancestors(real)]))
    # A folder that holds every project (/, the home folder, those above it) is never a
    # parent whose plan applies below it; a plan kept there from before is found there only.
    broad = broad_folders()
    return [p for p in found if p == real or p not in broad]


Ident = tuple[int, int]


class Lookup:
    """The statement that finds the sessions at a folder's search paths (:func:`locate`),
    and what reading its rows needs."""

    __slots__ = ("by_path", "idents", "keys", "statement")

    def __init__(self, directory: str, scope: str) -> None:
        paths = search_paths(directory)
        self.keys = [dir_key(p) for p in paths]
        # One statement for the whole chain of folders (one round trip on a network): the
        # sessions at any of their paths, or at any of their identities.
        self.idents: list[Ident] = [
            i for i in dict.fromkeys(file_identity(p) for p in paths) if i is not None
        ]
        keys, idents = self.keys, self.idents
        self.by_path = False  # once read (located): whether it found a session by path
        marks = ",".join("?" * len(keys))
        by_ident = "".join(" OR (s.dir_ino = ? AND s.dir_dev = ?)" for _ in idents)
        cols = ", ".join("s." + c.strip() for c in rows.SESSION_COLS.split(","))
        self.statement: tuple[str, tuple[object, ...]] = (
            f"SELECT {cols}, s.dir_dev, s.dir_ino, NULL FROM sessions s "
            f"WHERE s.state = 'active' AND s.scope = ? AND (s.dir IN ({marks}){by_ident}) "
            # and the folders that joined another folder's plan (np join), in the same trip
            f"UNION ALL SELECT {cols}, s.dir_dev, s.dir_ino, j.dir "
            "FROM joins j JOIN sessions s ON s.sid = j.sid "
            f"WHERE j.scope = ? AND s.state = 'active' AND j.dir IN ({marks})",
            (scope, *keys, *(v for dev, ino in idents for v in (ino, dev)), scope, *keys),
        )


def nearest_sid(keys: Sequence[str], scope: str) -> tuple[str, tuple[object, ...]]:
    """A scalar subquery (and its parameters) giving the sid of the active session
    :func:`locate` finds *by path* from the folder whose search keys are ``keys`` (NULL
    when none is found that way): a session at a folder before one that joined at the
    same folder, the nearer folder first. Portable, so a read can name "the plan here"
    before knowing its sid (:meth:`store.store.Store.plan_here`)."""
    marks = ",".join("?" * len(keys))
    order = " ".join(f"WHEN ? THEN {2 * n}" for n in range(len(keys)))
    return (
        "(SELECT sid FROM ("
        f"SELECT s.sid AS sid, CASE s.dir {order} END AS pos FROM sessions s "
        f"WHERE s.state = 'active' AND s.scope = ? AND s.dir IN ({marks}) "
        f"UNION ALL SELECT j.sid AS sid, CASE j.dir {order} END + 1 AS pos "
        "FROM joins j JOIN sessions s ON s.sid = j.sid "
        f"WHERE j.scope = ? AND s.state = 'active' AND j.dir IN ({marks})"
        ") n ORDER BY pos LIMIT 1)",
        (*keys, scope, *keys, *keys, scope, *keys),
    )


def bind(
    statement: tuple[str, tuple[object, ...]], marker: str, key: tuple[str, tuple[object, ...]]
) -> tuple[str, tuple[object, ...]]:
    """``statement`` with each parameter that is ``marker`` replaced by the expression
    ``key`` (SQL and parameters). np's SQL has no literal ``?``."""
    sql, params = statement
    parts = sql.split("?")
    out: list[str] = [parts[0]]
    values: list[object] = []
    for value, rest in zip(params, parts[1:], strict=True):
        if value == marker:
            out.append(key[0])
            values.extend(key[1])
        else:
            out.append("?")
            values.append(value)
        out.append(rest)
    return "".join(out), tuple(values)


class Bound:
    """A :class:`Conn` on which each statement in ``instead`` runs as the statement it
    maps to (sent ahead, keyed otherwise: :func:`bind`); every other statement as is."""

    __slots__ = ("_conn", "_instead")

    def __init__(
        self,
        conn: Conn,
        instead: dict[tuple[str, tuple[object, ...]], tuple[str, tuple[object, ...]]],
    ) -> None:
        self._conn = conn
        self._instead = instead

    def execute(self, sql: str, params: Params = (), /) -> Cursor:
        found = self._instead.get((sql, tuple(params)))
        return self._conn.execute(*found) if found is not None else self._conn.execute(sql, params)


def locate(conn: Conn, directory: str, scope: str) -> tuple[Session | None, Session | None]:
    """``(session, moved)``: the nearest active session at ``directory`` or above, by path
    (:func:`search_paths`), else by the directory's identity (``st_dev``, ``st_ino``: the
    same folder reached through a bind mount); ``moved`` is an active session whose
    recorded folder is no more where it was and whose identity is found here (the folder
    was renamed or moved): not adopted silently, the operator moves it. ``scope`` is
    required ("" on SQLite; the store's scope on PostgreSQL): a caller that forgot it
    would find nothing on PostgreSQL."""
    lookup = Lookup(directory, scope)
    return located(lookup, conn.execute(*lookup.statement).fetchall())


def located(lookup: Lookup, found: Sequence[Row]) -> tuple[Session | None, Session | None]:
    """What :func:`locate` finds in the rows of ``lookup``'s statement."""
    keys, idents = lookup.keys, lookup.idents
    at_path = {row[1]: row for row in found if row[-1] is None}
    joined = {row[-1]: row for row in found if row[-1] is not None}
    direct = [row[:-1] for row in found if row[-1] is None]
    for key in keys:
        lookup.by_path = key in at_path or key in joined
        if key in at_path:
            return rows.session(at_path[key]), None
        if key in joined:  # this folder joined another folder's plan (np join)
            return rows.session(joined[key]), None
    moved: Session | None = None
    for ident in idents:
        for row in direct:
            if (row[-2], row[-1]) != ident:
                continue
            session = rows.session(row)
            # The same folder, reached by another path; a key written before backslashes
            # were escaped (its raw path) is recognised here too.
            if ident in (file_identity(dir_path(session.dir)), file_identity(session.dir)):
                return session, None
            moved = moved or session
    return None, moved


def find_active(conn: Conn, directory: str, scope: str) -> Session | None:
    """The nearest active session of ``scope`` at ``directory`` or above it (:func:`locate`).
    ``scope`` is "" on SQLite; on PostgreSQL the host name or ``NP_SCOPE``."""
    return locate(conn, directory, scope)[0]


def load_session(conn: Conn, sid: str) -> Session:
    """The session ``sid``, active or archived.

    Raises:
        InvalidArgument: no session has that id (``data``: ``field="sid"``, ``sid``).
    """
    row = conn.execute(f"SELECT {rows.SESSION_COLS} FROM sessions WHERE sid = ?", (sid,)).fetchone()
    if row is None:
        raise InvalidArgument("There is no session with that id.", field="sid", sid=sid[:40])
    return rows.session(row)


def archived_unseen(
    conn: Conn, directory: str, actor: str | None, scope: str
) -> dict[str, Any] | None:
    """Who archived the nearest archived session at ``directory`` or above, when that was
    another actor and ``actor`` worked on the session but has not seen it archived:
    ``{"sid", "dir", "by", "at", "reason"}`` (``by``: the archiving actor, None for events
    older than actors). None otherwise, and when ``actor`` is None."""
    if actor is None:
        return None
    for key in (dir_key(p) for p in search_paths(directory)):
        row = conn.execute(
            "SELECT e.sid, e.seq, e.at, e.actor, e.reason FROM sessions s JOIN events e "
            "ON e.sid = s.sid AND e.type = 'session_archived' WHERE s.dir = ? AND s.scope = ? "
            "AND s.state = 'archived' ORDER BY s.archived_at DESC, e.seq DESC LIMIT 1",
            (key, scope),
        ).fetchone()
        if row is None:
            continue
        sid, seq, at, by, reason = row
        seen = seen_seq(conn, sid, actor)
        if by == actor or seen is None or seen >= seq:
            return None  # its own archive, a plan it never worked on, or already told
        return {"sid": sid, "dir": key, "by": by, "at": at, "reason": reason}
    return None


def joinable(conn: Conn, directory: str, scope: str) -> Session | None:
    """The active plan of the main worktree when ``directory`` is in a linked git worktree
    that has no plan (np join would join it), else None."""
    from .paths import main_worktree

    main = main_worktree(directory)
    return None if main is None else locate(conn, main, scope)[0]


def no_session_error(
    directory: str,
    moved: Session | None = None,
    archived: dict[str, Any] | None = None,
    join: Session | None = None,
) -> NoActiveSession:
    """The error for "nothing active at ``directory`` or above" (not raised here); when
    ``moved`` is the session whose folder was renamed to here, it says so (``data``:
    ``moved``, the session); when ``archived`` (:func:`archived_unseen`) is given, it says
    who archived this folder's session, when, and why (``data``: ``archived``)."""
    if archived is not None and moved is None:
        why = f" ({archived['reason']})" if archived.get("reason") else ""
        return NoActiveSession(
            f"There is no active session for this directory or its parents: "
            f"{archived.get('by') or 'someone'} archived this folder's session "
            f"{archived['sid']} at {archived['at']}{why}; its plan is finished.",
            field="dir",
            dir=dir_key(canonical_dir(directory)),
            archived=archived,
        )
    if moved is not None:
        return NoActiveSession(
            f"This folder's plan was started at {moved.dir}, which is no longer there: the "
            "folder was renamed or moved. Do not start a new session; the operator can move "
            "that session here.",
            field="dir",
            dir=dir_key(canonical_dir(directory)),
            moved=rows.session_dict(moved),
        )
    if join is not None:
        return NoActiveSession(
            "There is no active session for this directory or its parents; it is a linked git "
            f"worktree of {join.dir}, whose plan is active and can be joined from here.",
            field="dir",
            dir=dir_key(canonical_dir(directory)),
            joinable=rows.session_dict(join),
        )
    return NoActiveSession(
        "There is no active session for this directory or its parents.",
        field="dir",
        dir=dir_key(canonical_dir(directory)),
    )


def tasks_by_id(conn: Conn, sid: str, ids: Iterable[str]) -> dict[str, Task]:
    """The tasks of ``sid`` with these ids (chunked below SQLite's variable limit)."""
    wanted = sorted(set(ids))
    found: dict[str, Task] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for row in conn.execute(
            f"SELECT {rows.TASK_COLS} FROM tasks WHERE sid = ? "
            f"AND id IN ({','.join('?' * len(chunk))})",
            (sid, *chunk),
        ):
            found[row[0]] = rows.task(row)
    return found


def seen_seq(conn: Conn, sid: str, actor: str) -> int | None:
    """The newest seq of ``sid`` that ``actor`` has seen, or None if it never looked."""
    row = conn.execute("SELECT seq FROM seen WHERE sid = ? AND actor = ?", (sid, actor)).fetchone()
    return None if row is None else int(row[0])


def seen_and_top(conn: Conn, sid: str, actor: str) -> tuple[int | None, int]:
    """What ``actor`` has seen of ``sid`` (None: never looked) and its newest seq, in one
    statement (one round trip on a network)."""
    row = aggregate(conn, *seen_and_top_read(sid, actor))
    return (None if row[0] is None else int(row[0])), int(row[1])


def seen_and_top_read(sid: str, actor: str) -> tuple[str, tuple[object, ...]]:
    """The statement :func:`seen_and_top` runs (a read may send it ahead with others)."""
    return (
        "SELECT (SELECT seq FROM seen WHERE sid = ? AND actor = ?), "
        "(SELECT coalesce(max(seq), 0) FROM events WHERE sid = ?)",
        (sid, actor, sid),
    )


def aggregate(conn: Conn, sql: str, params: Params = ()) -> Row:
    """The one row of an aggregate query (``count``, ``max``: always exactly one row)."""
    row = conn.execute(sql, params).fetchone()
    if row is None:
        raise AssertionError(f"an aggregate query returned no row: {sql}")
    return row


def last_seq(conn: Conn, sid: str) -> int:
    """The seq of the newest event of ``sid`` (0 when it has none)."""
    return int(aggregate(conn, "SELECT coalesce(max(seq), 0) FROM events WHERE sid = ?", (sid,))[0])


def look(
    conn: Conn,
    sid: str,
    actor: str,
    *,
    upto: int | None = None,
    mark: bool = True,
    limit: int = NOTICE_LIMIT,
    at: str | None = None,
) -> Changes:
    """The events other actors appended to ``sid`` after ``actor`` last looked (up to seq
    ``upto``, default: the newest), the newest ``limit`` of them in full and the rest
    counted; with ``mark``, everything up to the newest event is then marked seen (the
    caller holds the write lock; with a receipt at ``at``). Without ``mark`` the result
    says what to mark once the output carrying it was produced (``Changes.upto``: the
    newest seq; 0 when nothing is new). Answers to ``actor``'s own questions are in
    ``answers`` too, all of them (never folded). An actor's first look at a session shows
    nothing: it sees the whole plan then. Events without an actor (older than actors)
    count as others'."""
    seen, top = seen_and_top(conn, sid, actor)
    changes = Changes()
    end = top if upto is None else min(upto, top)
    # Others' events and answers lie in (seen, end]; none when that range is empty (the
    # usual case after the actor's own write: end is just before its own events).
    if seen is not None and seen < end:
        where = (
            "FROM events WHERE sid = ? AND seq > ? AND seq <= ? AND (actor IS NULL OR actor <> ?)"
        )
        args = (sid, seen, end, actor)
        found = [
            rows.event(r)
            for r in conn.execute(
                f"SELECT {rows.EVENT_COLS} {where} ORDER BY seq DESC LIMIT ?", (*args, limit)
            )
        ][::-1]
        folded, first, last = 0, 0, 0
        if len(found) == limit:
            row = aggregate(
                conn,
                f"SELECT count(*), min(seq), max(seq) {where} AND seq < ?",
                (*args, found[0].seq),
            )
            folded, first, last = int(row[0]), int(row[1] or 0), int(row[2] or 0)
        changes = Changes(tuple(found), folded, first, last)
    if seen is not None and seen < end:
        changes = attrs.evolve(changes, answers=tuple(answers_for(conn, sid, actor, seen, end)))
    if seen is None or seen < top:
        if mark:
            mark_seen(conn, sid, actor, top, at)
        else:
            changes = attrs.evolve(changes, sid=sid, actor=actor, upto=top)
    return changes


def mark_seen(conn: Conn, sid: str, actor: str, upto: int, at: str | None = None) -> None:
    """Record that ``actor`` has seen ``sid`` up to seq ``upto`` (never moves back), and its
    receipt: when its seen moved forward (``at``: the unit's time, or the reader's clock)."""
    conn.execute(
        "INSERT INTO seen (sid, actor, seq) VALUES (?, ?, ?) "
        "ON CONFLICT (sid, actor) DO UPDATE SET "
        "seq = CASE WHEN excluded.seq > seen.seq THEN excluded.seq ELSE seen.seq END",
        (sid, actor, upto),
    )
    if at is not None:
        conn.execute(
            "INSERT INTO receipts (sid, actor, seq, at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (sid, actor, seq) DO NOTHING",
            (sid, actor, upto, at),
        )


def answers_for(conn: Conn, sid: str, actor: str, after: int, upto: int) -> list[Event]:
    """The answers to ``actor``'s own questions in ``sid`` with ``after < seq <= upto``
    (every one: they are never folded), oldest first."""
    found = [
        rows.event(r)
        for r in conn.execute(
            f"SELECT {rows.EVENT_COLS} FROM events WHERE sid = ? AND seq > ? AND seq <= ? "
            "AND type = ? ORDER BY seq",
            (sid, after, upto, str(EventType.TASK_ANSWERED)),
        )
    ]
    return [e for e in found if e.payload.get("asked_by") == actor and e.actor != actor]


def after_ids(conn: Conn, sid: str) -> dict[str, tuple[str, ...]]:
    """What each task of ``sid`` waits for: task id → the ids it waits for."""
    out: dict[str, list[str]] = {}
    for task_id, after_id in conn.execute(AFTER_SQL, (sid,)):
        out.setdefault(task_id, []).append(after_id)
    return {k: tuple(v) for k, v in out.items()}


def with_after(conn: Conn, sid: str, tasks: Iterable[Task]) -> tuple[Task, ...]:
    """``tasks`` with what each waits for filled in (one query)."""
    listed = tuple(tasks)
    deps = after_ids(conn, sid) if listed else {}
    if not deps:
        return listed
    return tuple(attrs.evolve(t, after=deps[t.id]) if t.id in deps else t for t in listed)


def needs_look(conn: Conn, sid: str, actor: str) -> bool:
    """Whether ``actor`` has not yet seen every event of ``sid`` (a read, no lock)."""
    seen = seen_seq(conn, sid, actor)
    return seen is None or seen < last_seq(conn, sid)


def overview(conn: Conn, sids: list[str]) -> dict[str, dict[str, Any]]:
    """For the sessions ``sids``: the goal's title, how many tasks are in each status, and
    who works on each — every actor that wrote to it or looked at it, with the time of its
    last write and the newest event it has seen — in four queries whatever the count."""
    out: dict[str, dict[str, Any]] = {
        sid: {"goal": None, "counts": {}, "actors": {}, "events": 0} for sid in sids
    }
    if not sids:
        return out
    marks = ",".join("?" * len(sids))
    for sid, title in conn.execute(f"SELECT sid, title FROM goals WHERE sid IN ({marks})", sids):
        out[sid]["goal"] = title
    for sid, status, n in conn.execute(
        f"SELECT sid, status, count(*) FROM tasks WHERE sid IN ({marks}) GROUP BY sid, status",
        sids,
    ):
        out[sid]["counts"][status] = int(n)
    for sid, actor, at, top in conn.execute(
        f"SELECT sid, actor, max(at), max(seq) FROM events WHERE sid IN ({marks}) "
        "GROUP BY sid, actor",
        sids,
    ):
        entry = out[sid]
        entry["events"] = max(entry["events"], int(top))
        if actor is not None:
            entry["actors"][actor] = {"actor": actor, "last_write_at": at, "seen_seq": None}
    for sid, actor, seq in conn.execute(
        f"SELECT sid, actor, seq FROM seen WHERE sid IN ({marks})", sids
    ):
        found = out[sid]["actors"].setdefault(
            actor, {"actor": actor, "last_write_at": None, "seen_seq": None}
        )
        found["seen_seq"] = int(seq)
    return out


__all__ = [
    "archived_unseen",
    "find_active",
    "joinable",
    "last_seq",
    "load_session",
    "locate",
    "look",
    "mark_seen",
    "needs_look",
    "no_session_error",
    "overview",
    "search_paths",
    "seen_seq",
    "tasks_by_id",
    "with_after",
]
