"""The monitor's moving parts without a terminal: following the store, keys, scrolling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.monitor.keys import (
    DESCRIPTIONS,
    DOWN,
    END,
    FOCUS,
    HOME,
    PAGE_DOWN,
    PAGE_UP,
    QUIT,
    REDRAW,
    UP,
    parse_keys,
)
from server.monitor.screen import _apply_key
from server.monitor.view import Frame, ViewState
from server.monitor.watcher import Watcher
from store import InvalidArgument, NewTask, Status, StatusChange, Store
from store.feed import Feed, open_feed

# -- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "keys"),
    [
        (b"q", [QUIT]),
        (b"\x03", [QUIT]),
        (b"d", [DESCRIPTIONS]),
        (b"\x1b[A\x1b[B", [UP, DOWN]),
        (b"\x1bOA\x1bOB", [UP, DOWN]),  # application cursor mode
        (b"\x1b[5~\x1b[6~", [PAGE_UP, PAGE_DOWN]),
        (b"\x1b[H\x1b[F\x1bOH\x1bOF", [HOME, END, HOME, END]),
        (b"\x1b[1~\x1b[4~\x1b[7~\x1b[8~", [HOME, END, HOME, END]),
        (b"\x1b[1;5A\x1b[5;3~", [UP, PAGE_UP]),  # with modifiers
        (b"kjgG \x0c", [UP, DOWN, HOME, END, PAGE_DOWN, REDRAW]),
        (b"x\x1b[Yy\x1bxq", [QUIT]),  # unknown keys and sequences are skipped
        (b"\t\x1b[Z", [FOCUS, FOCUS]),  # Tab and Shift-Tab switch the pane the keys scroll
    ],
)
def test_parse_keys(data: bytes, keys: list[str]) -> None:
    assert parse_keys(data) == (keys, b"")


def test_an_escape_sequence_split_across_reads_is_kept_for_the_next() -> None:
    keys, rest = parse_keys(b"j\x1b[")
    assert (keys, rest) == ([DOWN], b"\x1b[")
    assert parse_keys(rest + b"6~") == ([PAGE_DOWN], b"")
    assert parse_keys(b"\x1b") == ([], b"\x1b")
    assert parse_keys(b"\x1bO") == ([], b"\x1bO")


def test_keys_scroll_within_bounds_and_toggle_descriptions() -> None:
    state = ViewState()
    frame = Frame([], offset=0, max_offset=40, page=10)  # keys pressed in one burst

    def press(key: str) -> int:
        _apply_key(key, state, frame)
        return state.offset

    assert press(UP) == 0
    assert press(DOWN) == 1
    assert press(PAGE_DOWN) == 11
    assert press(PAGE_UP) == 1
    assert press(PAGE_UP) == 0
    assert press(END) == 40
    assert press(DOWN) == 40
    assert press(PAGE_DOWN) == 40
    assert press(HOME) == 0
    press(DESCRIPTIONS)
    assert state.descriptions
    press(DESCRIPTIONS)
    assert not state.descriptions


def test_tab_moves_the_scroll_keys_to_the_task_list_and_back() -> None:
    state = ViewState()
    frame = Frame([], 0, 40, 10, task_start=25, task_max_start=190, task_page=12)

    def press(key: str) -> tuple[str, int | None, int]:
        _apply_key(key, state, frame)
        return state.focus, state.task_start, state.offset

    assert press(DOWN) == ("events", None, 1)  # the log, as before
    assert press(FOCUS) == ("tasks", None, 1)
    assert press(DOWN) == ("tasks", 26, 1)  # from the tasks on screen
    assert press(DOWN) == ("tasks", 27, 1)  # a burst of keys adds up
    assert press(PAGE_DOWN) == ("tasks", 39, 1)
    assert press(END) == ("tasks", 190, 1)
    assert press(PAGE_DOWN) == ("tasks", 190, 1)  # within bounds
    assert press(HOME) == ("tasks", 0, 1)
    assert press(UP) == ("tasks", 0, 1)
    press(DESCRIPTIONS)  # d still toggles
    assert state.descriptions
    assert press(FOCUS) == ("events", None, 1)  # back: the list follows the agent again
    assert press(PAGE_DOWN) == ("events", None, 11)


# -- following the store ------------------------------------------------------------------------


@pytest.fixture
def writer(db_path: Path) -> Iterator[Store]:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with Store(str(db_path)) as store:
        yield store


@pytest.fixture
def reader(writer: Store) -> Iterator[Store]:
    with Store(writer.path) as store:
        yield store


@pytest.fixture
def feed(writer: Store) -> Iterator[Feed]:
    f = open_feed(writer.path)
    yield f
    f.close()


def start(store: Store, directory: Path) -> str:
    with store.transaction("test") as unit:
        return unit.start_session(str(directory)).sid


def step(watcher: Watcher, feed: Feed) -> bool:
    return watcher.apply({c.sid for c in feed.poll()})


def test_waits_for_a_session_here_then_follows_it(
    writer: Store, reader: Store, feed: Feed, tmp_path: Path, workdir: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = start(writer, elsewhere)
    deep = workdir / "src" / "pkg"
    deep.mkdir(parents=True)
    watcher = Watcher(reader, str(deep))
    watcher.load()
    assert watcher.plan is None
    assert [s.sid for s in watcher.elsewhere] == [other]
    assert watcher.snapshot().plan is None

    sid = start(writer, workdir)  # the parent walk finds it from src/pkg
    assert step(watcher, feed)
    assert watcher.shown_sid == sid
    assert [e.type for e in watcher.events] == ["session_started"]

    with writer.transaction("test") as unit:
        unit.set_goal(sid, "Goal", "Why")
        tasks = unit.add_tasks(sid, [NewTask("one"), NewTask("two")])
    assert step(watcher, feed)
    plan = watcher.snapshot().plan
    assert plan is not None and plan.goal is not None
    assert [t.title for t in plan.tasks] == ["one", "two"]
    assert [e.seq for e in watcher.events] == [1, 2, 3, 4]

    with writer.transaction("test") as unit:
        unit.set_statuses(sid, [StatusChange(tasks[0].id, Status.FAILED, "it broke")])
    assert step(watcher, feed)
    snap = watcher.snapshot()
    assert snap.events[0].seq == 5  # newest first
    assert snap.events[0].reason == "it broke"
    assert snap.plan is not None and snap.plan.tasks[0].status is Status.FAILED

    with writer.transaction("test") as unit:  # another session: nothing to redraw
        unit.set_goal(other, "Other goal", "")
    assert not step(watcher, feed)
    assert not step(watcher, feed)  # no commit at all


def test_an_archived_session_stays_until_a_new_one_starts(
    writer: Store, reader: Store, feed: Feed, workdir: Path
) -> None:
    first = start(writer, workdir)
    watcher = Watcher(reader, str(workdir))
    watcher.load()
    with writer.transaction("test") as unit:
        unit.archive(first)
    assert step(watcher, feed)
    assert watcher.shown_sid == first
    plan = watcher.snapshot().plan
    assert plan is not None and not plan.session.active
    assert watcher.events[-1].type == "session_archived"

    second = start(writer, workdir)
    assert step(watcher, feed)
    assert watcher.shown_sid == second
    assert [e.seq for e in watcher.events] == [1]


def test_a_pinned_session_is_shown_archived_and_never_switched(
    writer: Store, reader: Store, feed: Feed, workdir: Path, tmp_path: Path
) -> None:
    first = start(writer, workdir)
    with writer.transaction("test") as unit:
        unit.archive(first)
    watcher = Watcher(reader, str(tmp_path), sid=first)
    watcher.load()
    assert watcher.shown_sid == first
    assert watcher.snapshot().pinned
    step(watcher, feed)  # the archive, committed before the watcher loaded
    start(writer, workdir)
    assert not step(watcher, feed)
    assert watcher.shown_sid == first


def test_an_unknown_session_id_is_an_error(reader: Store, workdir: Path) -> None:
    with pytest.raises(InvalidArgument):
        Watcher(reader, str(workdir), sid="01JNOTASESSION000000000000").load()
