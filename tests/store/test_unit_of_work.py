"""The store's unit of work: touch semantics (port of the seed's TestTxnStoreTouchAt),
start/archive (port of TestStoreStartAndArchive), atomicity and invariants."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from store import (
    EventType,
    GoalAlreadySet,
    GoalNotSet,
    InvalidArgument,
    NewTask,
    NoActiveSession,
    ReasonRequired,
    SessionAlreadyActive,
    SessionState,
    Status,
    StatusChange,
    Store,
    TaskNotFound,
)
from store.ids import is_ulid


def integrity_errors() -> tuple[type[BaseException], ...]:
    """What each engine raises when a constraint or trigger refuses a write."""
    try:
        from psycopg import errors
    except ImportError:
        return (sqlite3.IntegrityError,)
    return (sqlite3.IntegrityError, errors.IntegrityError)


class SequenceClock:
    """Returns the given times in order (the seed's testutil.SequenceClock)."""

    def __init__(self, *times: datetime) -> None:
        self.times = list(times)

    def __call__(self) -> datetime:
        return self.times.pop(0)


@pytest.fixture
def store(np_db: str) -> Iterator[Store]:
    """A store on each engine: every test that uses it runs on SQLite and PostgreSQL."""
    with Store(np_db) as s:
        yield s


def started(store: Store, directory: Path) -> str:
    with store.transaction("np s") as unit:
        return unit.start_session(str(directory)).sid


def test_touch_at_uses_given_time_else_the_clock_in_utc(np_db: str, workdir: Path) -> None:
    start_time = datetime(2025, 5, 5, 9, 0, tzinfo=timezone(timedelta(hours=1), "A"))
    auto_time = datetime(2025, 5, 5, 10, 30, tzinfo=timezone(timedelta(hours=-1), "B"))
    with Store(np_db, clock=SequenceClock(start_time, auto_time)) as store:
        sid = started(store, workdir)
        assert store.session(sid).created_at == "2025-05-05T08:00:00.000000Z"

        custom = datetime(2025, 5, 6, 8, 15, tzinfo=UTC)
        with store.transaction("touch") as unit:
            unit.touch_at(sid, custom)
        assert store.session(sid).last_updated_at == "2025-05-06T08:15:00.000000Z"

        with store.transaction("touch") as unit:
            unit.touch_at(sid, None)
        assert store.session(sid).last_updated_at == "2025-05-05T11:30:00.000000Z"


def test_touch_at_normalises_other_zones_to_utc(store: Store, workdir: Path) -> None:
    sid = started(store, workdir)
    tokyo = datetime(2025, 5, 6, 17, 15, tzinfo=timezone(timedelta(hours=9)))
    with store.transaction("touch") as unit:
        touched = unit.touch_at(sid, tokyo)
    assert touched.last_updated_at == "2025-05-06T08:15:00.000000Z"


def test_start_and_archive(store: Store, workdir: Path) -> None:
    sid = started(store, workdir)
    assert is_ulid(sid)
    found = store.find_active(str(workdir))
    assert found is not None
    assert found.sid == sid
    assert found.dir == str(workdir.resolve())

    with pytest.raises(SessionAlreadyActive) as already:
        started(store, workdir)
    assert already.value.data["session"]["sid"] == sid

    with store.transaction("np a") as unit:
        archived = unit.archive(sid)
    assert archived.state is SessionState.ARCHIVED
    assert archived.archived_at is not None
    assert store.find_active(str(workdir)) is None

    # Archiving again succeeds and changes nothing.
    with store.transaction("np a") as unit:
        again = unit.archive(sid)
    assert again == archived
    assert [e.type for e in store.events(sid)] == [
        EventType.SESSION_STARTED,
        EventType.SESSION_ARCHIVED,
    ]
    # A new session may start once the old one is archived.
    assert started(store, workdir) != sid


def test_parent_walk_finds_the_nearest_active_session(store: Store, tmp_path: Path) -> None:
    outer = tmp_path / "repo"
    inner = outer / "pkg"
    deep = inner / "src" / "x"
    deep.mkdir(parents=True)
    outer_sid = started(store, outer)
    found = store.find_active(str(deep))
    assert found is not None
    assert found.sid == outer_sid
    # Starting below an active session is refused: it would hide the plan above.
    with pytest.raises(SessionAlreadyActive):
        started(store, inner)


def test_symlinked_directory_is_the_same_session(store: Store, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    sid = started(store, link)
    assert store.session(sid).dir == str(real.resolve())
    found = store.find_active(str(real))
    assert found is not None
    assert found.sid == sid


def test_one_active_session_per_dir_is_enforced_by_the_database(
    store: Store, workdir: Path
) -> None:
    sid = started(store, workdir)
    row = store.conn.execute(
        "SELECT dir, created_at, last_updated_at, scope FROM sessions WHERE sid = ?", (sid,)
    ).fetchone()
    with pytest.raises(integrity_errors()):
        store.conn.execute(
            "INSERT INTO sessions (sid, dir, state, created_at, last_updated_at, archived_at, "
            "scope) VALUES (?, ?, 'active', ?, ?, NULL, ?)",
            ("0" * 26, *row),
        )


def test_event_log_is_append_only_and_gapless_in_the_database(store: Store, workdir: Path) -> None:
    sid = started(store, workdir)
    with pytest.raises(integrity_errors(), match="append-only"):
        store.conn.execute("UPDATE events SET reason = 'x' WHERE sid = ?", (sid,))
    with pytest.raises(integrity_errors(), match="append-only"):
        store.conn.execute("DELETE FROM events WHERE sid = ?", (sid,))
    with pytest.raises(integrity_errors(), match="gap"):
        store.conn.execute(
            "INSERT INTO events (sid, seq, at, type, reason, cmd, payload) "
            "VALUES (?, 5, 'x', 'goal_set', NULL, 'x', '{}')",
            (sid,),
        )


def test_tasks_cannot_be_deleted(store: Store, workdir: Path) -> None:
    sid = started(store, workdir)
    with store.transaction("np t a") as unit:
        unit.add_tasks(sid, [NewTask("a")])
    with pytest.raises(integrity_errors(), match="never deleted"):
        store.conn.execute("DELETE FROM tasks")


def test_an_exception_inside_a_unit_leaves_no_trace(store: Store, workdir: Path) -> None:
    sid = started(store, workdir)
    before = store.session(sid)
    events_before = store.events(sid)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction("np g s") as unit:
        unit.set_goal(sid, "Goal", "desc")
        unit.add_tasks(sid, [NewTask("one"), NewTask("two")])
        raise Boom
    plan = store.plan(sid)
    assert plan.goal is None
    assert plan.tasks == ()
    assert store.session(sid) == before
    assert store.events(sid) == events_before


def test_batch_with_one_bad_item_writes_nothing(store: Store, workdir: Path) -> None:
    sid = started(store, workdir)
    with pytest.raises(InvalidArgument):
        with store.transaction("np t a") as unit:
            unit.add_tasks(sid, [NewTask("fine"), NewTask("   "), NewTask("also fine")])
    assert store.plan(sid).tasks == ()

    with store.transaction("np t a") as unit:
        a, b = unit.add_tasks(sid, [NewTask("a"), NewTask("b")])
    seq = len(store.events(sid))
    with pytest.raises(ReasonRequired):
        with store.transaction("np t u") as unit:
            unit.set_statuses(
                sid,
                [StatusChange(a.id, Status.COMPLETED), StatusChange(b.id, Status.FAILED)],
            )
    with pytest.raises(TaskNotFound) as missing:
        with store.transaction("np t u") as unit:
            unit.set_statuses(
                sid,
                [StatusChange(a.id, Status.COMPLETED), StatusChange("nope", Status.COMPLETED)],
            )
    assert missing.value.data["ids"] == ["nope"]
    assert [t.status for t in store.plan(sid).tasks] == [Status.PENDING, Status.PENDING]
    assert len(store.events(sid)) == seq


def test_status_changes_are_logged_with_reasons_and_reopen_is_allowed(
    store: Store, workdir: Path
) -> None:
    sid = started(store, workdir)
    with store.transaction("np t a") as unit:
        (task,) = unit.add_tasks(sid, [NewTask("t", "d")])
    for status, reason in [
        (Status.IN_PROGRESS, None),
        (Status.FAILED, "tests broke"),
        (Status.PENDING, None),
        (Status.CANCELLED, "not needed"),
        (Status.COMPLETED, None),
    ]:
        with store.transaction("np t u") as unit:
            unit.set_statuses(sid, [StatusChange(task.id, status, reason)])
    changes = [e for e in store.events(sid) if e.type is EventType.TASK_STATUS_CHANGED]
    assert [(e.payload["status_before"], e.payload["status_after"], e.reason) for e in changes] == [
        ("pending", "in_progress", None),
        ("in_progress", "failed", "tests broke"),
        ("failed", "pending", None),
        ("pending", "cancelled", "not needed"),
        ("cancelled", "completed", None),
    ]
    assert all(e.payload["title"] == "t" for e in changes)


def test_goal_rules(store: Store, workdir: Path) -> None:
    sid = started(store, workdir)
    with pytest.raises(GoalNotSet), store.transaction("np g u") as unit:
        unit.change_goal(sid, "x", None, "because")
    with store.transaction("np g s") as unit:
        unit.set_goal(sid, "Ship it", "all of it")
    with pytest.raises(GoalAlreadySet), store.transaction("np g s") as unit:
        unit.set_goal(sid, "Again", "no")
    with pytest.raises(ReasonRequired), store.transaction("np g u") as unit:
        unit.change_goal(sid, "New", None, "  ")
    with store.transaction("np g u") as unit:
        unit.change_goal(sid, None, "only the description", "operator asked")
    plan = store.plan(sid)
    assert plan.goal is not None
    assert (plan.goal.title, plan.goal.description) == ("Ship it", "only the description")
    updated = store.events(sid)[-1]
    assert updated.type is EventType.GOAL_UPDATED
    assert updated.reason == "operator asked"
    assert updated.payload["goal_before"]["description"] == "all of it"
    assert updated.payload["goal_after"]["description"] == "only the description"


def test_edit_task_needs_a_reason_and_records_before_after(store: Store, workdir: Path) -> None:
    sid = started(store, workdir)
    with store.transaction("np t a") as unit:
        (task,) = unit.add_tasks(sid, [NewTask("old", "desc")])
    with pytest.raises(ReasonRequired), store.transaction("np t e") as unit:
        unit.edit_task(sid, task.id, "new", None, None)
    with store.transaction("np t e") as unit:
        unit.edit_task(sid, task.id, "new", None, "clearer")
    (edited,) = store.plan(sid).tasks
    assert (edited.id, edited.title, edited.description) == (task.id, "new", "desc")
    event = store.events(sid)[-1]
    assert event.payload["before"]["title"] == "old"
    assert event.payload["after"]["title"] == "new"


def test_every_mutation_touches_the_session_in_the_same_transaction(
    np_db: str, workdir: Path
) -> None:
    times = [datetime(2025, 1, 1, 0, 0, i, tzinfo=UTC) for i in range(10)]
    with Store(np_db, clock=SequenceClock(*times)) as store:
        sid = started(store, workdir)
        with store.transaction("np g s") as unit:
            unit.set_goal(sid, "g", "d")
        with store.transaction("np t a") as unit:
            unit.add_tasks(sid, [NewTask("a"), NewTask("b")])
        session = store.session(sid)
        events = store.events(sid)
        assert session.last_updated_at == "2025-01-01T00:00:02.000000Z"
        assert events[-1].at == session.last_updated_at
        assert [e.seq for e in events] == [1, 2, 3, 4]


def test_archived_session_is_read_only(store: Store, workdir: Path) -> None:
    sid = started(store, workdir)
    with store.transaction("np a") as unit:
        unit.archive(sid)
    with pytest.raises(NoActiveSession), store.transaction("np g s") as unit:
        unit.set_goal(sid, "g", "d")


@pytest.mark.parametrize(
    ("title", "field_fragment"),
    [
        ("", "blank"),
        ("   ", "blank"),
        ("x" * 301, "limit"),
        ("bell\x07", "control"),
        ("two\nlines", "a line break"),
    ],
)
def test_title_limits(store: Store, workdir: Path, title: str, field_fragment: str) -> None:
    sid = started(store, workdir)
    with pytest.raises(InvalidArgument, match=field_fragment), store.transaction("x") as unit:
        unit.add_tasks(sid, [NewTask(title)])


def test_text_limits(store: Store, workdir: Path) -> None:
    sid = started(store, workdir)
    with store.transaction("x") as unit:
        (task,) = unit.add_tasks(sid, [NewTask("x" * 300, "d\n\ttabbed" + "y" * 19_990)])
    with pytest.raises(InvalidArgument, match="limit"), store.transaction("x") as unit:
        unit.add_tasks(sid, [NewTask("t", "y" * 20_001)])
    with pytest.raises(InvalidArgument, match="limit"), store.transaction("x") as unit:
        unit.set_statuses(sid, [StatusChange(task.id, Status.FAILED, "r" * 2_001)])
    with pytest.raises(InvalidArgument, match="at most 500"), store.transaction("x") as unit:
        unit.add_tasks(sid, [NewTask(f"t{i}") for i in range(501)])
    with store.transaction("x") as unit:
        assert len(unit.add_tasks(sid, [NewTask(f"t{i}") for i in range(500)])) == 500
    tasks = store.plan(sid).tasks
    assert len({t.id for t in tasks}) == 501
    assert all(len(t.id) <= 8 and t.id == t.id.lower() for t in tasks)
    assert [t.created_seq for t in tasks] == sorted(t.created_seq for t in tasks)


def test_value_types_show_their_fields_and_compare_by_value() -> None:
    """The value types share one ``__repr__``, ``__eq__`` and ``__hash__`` (cheaper than
    attrs compiling them per class on the CLI's path) with attrs' meaning: every field
    named; equal when the class and every field are."""
    from store.types import Goal, NewTask, Status, StatusChange

    goal = Goal("Ship", "the login page", "2026-01-01T00:00:00.000000Z")
    assert repr(goal) == (
        "Goal(title='Ship', description='the login page', updated_at='2026-01-01T00:00:00.000000Z')"
    )
    assert goal == Goal("Ship", "the login page", "2026-01-01T00:00:00.000000Z")
    assert hash(goal) == hash(Goal("Ship", "the login page", "2026-01-01T00:00:00.000000Z"))
    assert goal != Goal("Ship", "the login page", "2026-01-02T00:00:00.000000Z")
    assert len({goal, Goal("Ship", "the login page", "2026-01-01T00:00:00.000000Z")}) == 1
    # a value equals only its own class: not a tuple of the same fields
    assert NewTask("Ship", "the login page", ()) != ("Ship", "the login page", ())
    change = StatusChange(" AB12 ", "done")
    assert repr(change).startswith("StatusChange(id='ab12', status=")
    assert change.status is Status.COMPLETED
