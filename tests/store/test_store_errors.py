"""Store errors: one neutral voice, facts in ``data``, SQLite errors classified by code.

Every error the store raises is provoked here against a real database file, and each must
(a) name no front door's syntax — no CLI flag, no ``np …`` command, no JSON field in
quotes, no ``np.*`` command — and (b) carry in ``data`` the facts a door needs to write its
own next step (``field`` and the specifics documented on each error class).
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import store
import store.errors
from store import (
    ALL_ERRORS,
    GoalAlreadySet,
    GoalNotSet,
    InvalidArgument,
    NewTask,
    NoActiveSession,
    NpError,
    ReasonRequired,
    SessionAlreadyActive,
    Status,
    StatusChange,
    StorageBusy,
    StorageError,
    Store,
    TaskNotFound,
)
from store.errors import WriteConflict
from store.sqlite.conn import Failure, classify_error
from store.sqlite.probes import open_existing, probe_write_lock

# What no store sentence may contain: CLI flags, np shell commands (short verbs and the long
# ones), np.* commands, a JSON field in quotes, backticks, the database env var, and
# "(… over JSON)" asides. "np" as the product's name ("an np database") is fine.
_ENGLISH = r"(?!(?:to|is|in|as|on|or|at|of|if|by)\b)"  # "newer np to use", not a verb
FRONT_DOOR_SYNTAX = re.compile(
    r"(?:^|[\s(/])--?[a-zA-Z]"
    rf"|\bnp {_ENGLISH}(?:[a-z]{{1,2}}|ls|prompt|serve|doctor|backup|help)\b"
    r"|\bnp\.[a-z]|\"[a-z_]+\"|`|NP_DB|over JSON"
)


@pytest.mark.parametrize(
    "old",
    [
        'A reason is required to x; give one with -r/--reason ("reason" over JSON).',
        "There is no active session here; start one with `np s`.",
        "The file is damaged; point --db or NP_DB at another file.",
        "Say what to change: a new title (-t), a new description (-d), or both.",
        "There is no session with that id; list sessions with np ls --all.",
        "Start one with np.session.start.",
    ],
)
def test_the_syntax_check_catches_the_old_wording(old: str) -> None:
    assert FRONT_DOOR_SYNTAX.search(old)


@pytest.fixture
def db(db_path: Path) -> Iterator[Store]:
    with Store(str(db_path)) as s:
        yield s


@pytest.fixture
def sid(db: Store, workdir: Path) -> str:
    with db.transaction("test") as unit:
        session = unit.start_session(str(workdir))
        unit.set_goal(session.sid, "g", "d")
        unit.add_tasks(session.sid, [NewTask("one")])
    return session.sid


def task_id(db: Store, sid: str) -> str:
    return db.tasks(sid)[0].id


def raised(kind: type[NpError], action: Callable[[], object]) -> NpError:
    with pytest.raises(kind) as info:
        action()
    exc = info.value
    assert not FRONT_DOOR_SYNTAX.search(exc.message), exc.message
    assert exc.message.endswith("."), exc.message
    body = exc.to_dict()
    assert set(body) == {"code", "kind", "message", "data"}
    assert body["data"]["kind"] == exc.kind == kind.kind and body["code"] == kind.code
    return exc


def write(db: Store, fn: Callable[[Any], object]) -> Callable[[], object]:
    def run() -> object:
        with db.transaction("test") as unit:
            return fn(unit)

    return run


def test_every_error_kind_and_code_is_unique_and_listed() -> None:
    kinds = [e.kind for e in ALL_ERRORS]
    codes = [e.code for e in ALL_ERRORS]
    assert len(set(kinds)) == len(kinds) and len(set(codes)) == len(codes)
    subclasses = {c for c in vars(store.errors).values() if isinstance(c, type)}
    # A retryable flavour of a listed kind (WriteConflict is a StorageBusy) shares its kind.
    flavours = {c for c in subclasses if c.__bases__[0] in ALL_ERRORS}
    assert flavours == {WriteConflict} and WriteConflict.kind == StorageBusy.kind
    listed = {c for c in subclasses if issubclass(c, NpError) and c is not NpError} - flavours
    assert listed == set(ALL_ERRORS)
    assert all(e.__doc__ and "Data:" in e.__doc__ for e in ALL_ERRORS), "document data keys"


def test_session_errors_name_dir_or_sid(db: Store, sid: str, workdir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    exc = raised(NoActiveSession, lambda: db.resolve(str(elsewhere)))
    assert exc.data == {"field": "dir", "dir": os.path.realpath(elsewhere)}
    assert exc.message == "There is no active session for this directory or its parents."

    exc = raised(SessionAlreadyActive, write(db, lambda u: u.start_session(str(workdir))))
    assert exc.data["field"] == "dir" and exc.data["session"]["sid"] == sid

    exc = raised(InvalidArgument, write(db, lambda u: u.start_session(str(tmp_path / "no"))))
    assert exc.data["field"] == "dir"

    exc = raised(InvalidArgument, lambda: db.plan("0" * 26))
    assert exc.data == {"field": "sid", "sid": "0" * 26}

    exc = raised(InvalidArgument, lambda: db.sessions("sleeping"))
    assert exc.data["field"] == "state" and exc.data["allowed"] == ["active", "archived", "all"]

    write(db, lambda u: u.archive(sid))()
    exc = raised(NoActiveSession, write(db, lambda u: u.add_tasks(sid, [NewTask("t")])))
    assert exc.data["field"] == "sid" and exc.data["sid"] == sid
    assert exc.data["state"] == "archived" and exc.data["dir"] == os.path.realpath(workdir)


def test_goal_errors(db: Store, sid: str, workdir: Path, tmp_path: Path) -> None:
    exc = raised(GoalAlreadySet, write(db, lambda u: u.set_goal(sid, "again", "")))
    assert exc.data == {"sid": sid}
    exc = raised(ReasonRequired, write(db, lambda u: u.change_goal(sid, "new", None, " ")))
    assert exc.data == {"field": "reason", "action": "goal.change"}
    assert exc.message == "A reason is required to change the goal."
    exc = raised(InvalidArgument, write(db, lambda u: u.change_goal(sid, None, None, "r")))
    assert exc.data["field"] == "title" and exc.data["fields"] == ["title", "description"]

    other = tmp_path / "other"
    other.mkdir()
    bare = write(db, lambda u: u.start_session(str(other)))().sid  # type: ignore[attr-defined]
    exc = raised(GoalNotSet, write(db, lambda u: u.change_goal(bare, "t", None, "why")))
    assert exc.message == "No goal is set yet." and exc.data == {"sid": bare}


def test_task_errors_carry_ids_status_and_item(db: Store, sid: str) -> None:
    tid = task_id(db, sid)
    exc = raised(
        ReasonRequired,
        write(
            db,
            lambda u: u.set_statuses(sid, [StatusChange(tid, "done"), StatusChange(tid, "failed")]),
        ),
    )
    assert exc.message == f"A reason is required to mark task {tid} failed."
    assert exc.data == {
        "field": "reason",
        "action": "task.status",
        "id": tid,
        "status": "failed",
        "item": 2,
    }
    exc = raised(ReasonRequired, write(db, lambda u: u.edit_task(sid, tid, "t", None, None)))
    assert exc.data == {"field": "reason", "action": "task.edit", "id": tid}

    exc = raised(
        TaskNotFound, write(db, lambda u: u.set_statuses(sid, [StatusChange("zz", "done")]))
    )
    assert exc.data == {"field": "id", "ids": ["zz"], "sid": sid}

    exc = raised(InvalidArgument, lambda: StatusChange(tid, "done-ish"))
    assert exc.data["field"] == "status" and exc.data["value"] == "done-ish"
    assert exc.data["allowed"] == [s.value for s in Status]

    exc = raised(InvalidArgument, write(db, lambda u: u.set_statuses(sid, [])))
    assert exc.data == {"field": "updates"}


def test_limit_errors_say_field_item_length_and_limit(db: Store, sid: str) -> None:
    exc = raised(
        InvalidArgument,
        write(db, lambda u: u.add_tasks(sid, [NewTask("ok"), NewTask("x" * 301)])),
    )
    assert exc.data == {"field": "title", "item": 2, "length": 301, "limit": 300}
    assert exc.message.startswith("The title of task 2 is 301 characters long")
    exc = raised(InvalidArgument, write(db, lambda u: u.add_tasks(sid, [NewTask("a\nb")])))
    assert exc.data == {"field": "title", "item": 1, "char": "U+000A", "position": 2}
    exc = raised(InvalidArgument, write(db, lambda u: u.set_goal(sid, "  ", "")))
    assert exc.data == {"field": "title"}
    tid = task_id(db, sid)
    change = StatusChange(tid, "done", " ")
    exc = raised(InvalidArgument, write(db, lambda u: u.set_statuses(sid, [change])))
    assert exc.data == {"field": "reason", "item": 1}
    exc = raised(InvalidArgument, write(db, lambda u: u.add_tasks(sid, [NewTask("t")] * 501)))
    assert exc.data == {"field": "tasks", "length": 501, "limit": 500}


def test_status_parse_knows_aliases_and_change_normalises() -> None:
    assert Status.parse(" Done ") is Status.COMPLETED
    assert Status.parse("complete") is Status.COMPLETED
    assert Status.parse("canceled") is Status.CANCELLED
    assert Status.parse("In-Progress") is Status.IN_PROGRESS
    assert Status.parse(Status.FAILED) is Status.FAILED
    assert StatusChange(" 1AaF13 ", "in progress") == StatusChange("1aaf13", Status.IN_PROGRESS)


def test_a_change_given_as_alias_is_stored_canonically(db: Store, sid: str) -> None:
    tid = task_id(db, sid)
    changed = write(db, lambda u: u.set_statuses(sid, [StatusChange(tid.upper(), "done")]))()
    assert [t.status for t in changed] == [Status.COMPLETED]  # type: ignore[attr-defined]
    assert db.events(sid, newest_first=True, limit=1)[0].payload["status_after"] == "completed"


# -- storage errors -------------------------------------------------------------------------


def test_a_non_database_file_is_classified_by_code(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite, not at all" * 100)
    exc = raised(StorageError, lambda: Store(str(junk)))
    assert exc.data == {"field": "db", "path": str(junk), "cause": "not_a_database"}
    assert junk.read_bytes().startswith(b"this is not sqlite")


def test_a_newer_schema_is_a_storage_error_with_versions(db_path: Path) -> None:
    Store(str(db_path)).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA user_version = 99")
    exc = raised(StorageError, lambda: Store(str(db_path)))
    assert exc.data["cause"] == "newer_schema" and exc.data["schema_version"] == 99
    assert exc.data["field"] == "db"


def test_a_held_write_lock_is_storage_busy(db: Store, sid: str, db_path: Path) -> None:
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Store(str(db_path), timeout=0) as impatient:
            exc = raised(StorageBusy, write(impatient, lambda u: u.archive(sid)))
            assert exc.data == {"field": "db", "path": str(db_path), "cause": "busy"}
        exc = raised(StorageBusy, lambda: probe_write_lock(str(db_path), timeout=0))
        assert exc.data["cause"] == "busy" and exc.data["timeout"] == 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert db.session(sid).active  # nothing was written


def test_a_missing_file_is_named_as_a_fact(tmp_path: Path) -> None:
    exc = raised(StorageError, lambda: open_existing(str(tmp_path / "none.db")))
    assert exc.data["cause"] == "missing" and exc.data["field"] == "db"


def test_classification_uses_the_code_before_the_text(tmp_path: Path) -> None:
    holder = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(tmp_path / "a.db", isolation_level=None, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as busy:
        other.execute("BEGIN IMMEDIATE")
    holder.close()
    other.close()
    assert busy.value.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
    assert classify_error(busy.value) is Failure.BUSY

    misleading = sqlite3.OperationalError("database is locked")
    misleading.sqlite_errorcode = sqlite3.SQLITE_FULL  # the code wins over the words
    assert classify_error(misleading) is Failure.FULL
    extended = sqlite3.OperationalError("whatever")
    extended.sqlite_errorcode = sqlite3.SQLITE_READONLY | (3 << 8)  # SQLITE_READONLY_ROLLBACK
    assert classify_error(extended) is Failure.READ_ONLY

    assert classify_error(sqlite3.DatabaseError("file is not a database")) is Failure.NOT_A_DATABASE
    assert classify_error(OSError(errno.ENOSPC, "No space left")) is Failure.FULL
    assert classify_error(PermissionError(errno.EACCES, "denied")) is Failure.READ_ONLY
    assert classify_error(sqlite3.DatabaseError("something new")) is Failure.OTHER


def test_importing_store_paths_loads_neither_sqlite3_nor_attrs() -> None:
    import subprocess
    import sys

    code = (
        "import sys, store.paths; from store import NpError, InvalidArgument; "
        "print(sorted(m for m in ('sqlite3', 'attrs') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    lazy = "import store; print(store.Store.__module__, store.Status.parse('done'))"
    out = subprocess.run([sys.executable, "-c", lazy], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["store.store", "completed"]
