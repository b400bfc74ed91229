"""The monitor's views at fixed sizes: plan, progress, event lines, empty states, scrolling."""

from __future__ import annotations

import io

import pytest
from monitor_values import DIR, SID, added, at, demo_plan, event, moved, session, task
from rich.cells import cell_len
from rich.console import Console, Group

from server.monitor.view import (
    Frame,
    Snapshot,
    ViewState,
    build_screen,
    event_block,
    plain_view,
    progress_text,
    task_block,
)
from server.text.render import event_line, task_line
from store import EventType, Goal, Plan, SessionState, Status


def plain(frame: Frame) -> list[str]:
    return [line.plain.rstrip() for line in frame.lines]


def screen(snap: Snapshot, width: int = 80, height: int = 24, **state: bool | int) -> Frame:
    frame = build_screen(snap, ViewState(**state), width, height)  # type: ignore[arg-type]
    assert len(frame.lines) == height
    assert all(cell_len(line.plain) <= width for line in frame.lines)
    return frame


def demo_snapshot() -> Snapshot:
    plan, events = demo_plan()
    return Snapshot(directory=DIR, plan=plan, events=events)


# -- pieces -------------------------------------------------------------------------------------


def test_progress_line_counts_each_outcome() -> None:
    tasks = (
        [task(i, "done", Status.COMPLETED) for i in range(4)]
        + [task(10, "broke", Status.FAILED), task(11, "dropped", Status.CANCELLED)]
        + [task(20 + i, "todo") for i in range(3)]
    )
    assert progress_text(tasks) == "4/9 completed · 1 failed · 1 cancelled"
    assert progress_text([task(1, "x", Status.IN_PROGRESS)]) == "0/1 completed · 1 in progress"
    assert progress_text([]) == "0/0 completed"


def test_task_lines_match_the_plan_text() -> None:
    t = task(7, "Write the CSV serializer", Status.IN_PROGRESS, "Use the csv module.\nUTF-8.")
    lines = task_block(t, description=True, width=None)
    assert "\n".join(line.plain for line in lines) == task_line(t, description=True)
    assert [line.plain for line in task_block(t, description=False, width=None)] == [
        "⟳ t07 Write the CSV serializer"
    ]


def test_task_lines_show_what_a_task_waits_for_and_who_holds_it() -> None:
    import attrs

    held = attrs.evolve(
        task(7, "Write the writer", Status.IN_PROGRESS),
        claimed_by="agent-2",
        claim_expires_at="2026-12-06T14:05:00.000000Z",
    )
    waiting = attrs.evolve(task(8, "Document it"), after=("t07",))
    for t, mark in ((held, "[agent-2 until 14:05Z]"), (waiting, "[after t07]")):
        (line,) = task_block(t, description=False, width=None)
        assert line.plain.endswith(mark) and line.plain == task_line(t, description=False)


def test_long_task_titles_wrap_under_the_title() -> None:
    t = task(1, "word " * 30)
    lines = [line.plain for line in task_block(t, description=False, width=40)]
    assert len(lines) > 1
    assert all(len(line) <= 40 for line in lines)
    assert all(line.startswith("      word") for line in lines[1:])  # "☐ t01 " is 6 cells


def test_event_lines_match_np_log_and_wrap_with_a_hanging_indent() -> None:
    t = task(4, "Support Excel")
    e = moved(9, t, Status.PENDING, Status.CANCELLED, "The operator said   CSV is enough")
    assert event_block(e, None)[0].plain == event_line(e)
    assert event_line(e) == (
        '#9 2026-05-06 08:24:00 task t04 "Support Excel": ☐ pending → ⊗ cancelled'
        " — reason: The operator said CSV is enough"
    )
    wrapped = [line.plain for line in event_block(e, 60)]  # narrow: time of day only
    assert wrapped == [
        '#9 08:24:00 task t04 "Support Excel": ☐ pending → ⊗',
        "            cancelled — reason: The operator said CSV is",
        "            enough",
    ]
    assert event_block(e, 100)[0].plain.startswith("#9 2026-05-06 08:24:00 task t04")


def test_event_lines_for_every_event_type() -> None:
    goal_before = {"title": "Old", "description": "a"}
    goal_after = {"title": "New", "description": "b"}
    events = [
        event(1, EventType.SESSION_STARTED, {"dir": DIR}),
        event(2, EventType.GOAL_SET, {"goal": goal_before}),
        event(
            3,
            EventType.GOAL_UPDATED,
            {"goal_before": goal_before, "goal_after": goal_after},
            "scope",
        ),
        added(4, task(1, "A task")),
        event(
            5,
            EventType.TASK_UPDATED,
            {
                "task_id": "t01",
                "before": {"title": "A task", "description": ""},
                "after": {"title": "A task", "description": "more"},
            },
            "clarify",
        ),
        moved(6, task(1, "A task"), Status.PENDING, Status.FAILED, "tests fail"),
        event(7, EventType.SESSION_ARCHIVED, {"dir": DIR}),
    ]
    text = [event_block(e, None, 2)[0].plain for e in events]
    assert text == [
        " #1 2026-05-06 08:16:00 session started in /work/demo",
        ' #2 2026-05-06 08:17:00 goal set: "Old"',
        ' #3 2026-05-06 08:18:00 goal changed: title "Old" → "New"; description changed'
        " — reason: scope",
        ' #4 2026-05-06 08:19:00 task t01 added: "A task"',
        " #5 2026-05-06 08:20:00 task t01 edited: description changed — reason: clarify",
        ' #6 2026-05-06 08:21:00 task t01 "A task": ☐ pending → ☒ failed — reason: tests fail',
        " #7 2026-05-06 08:22:00 session archived",
    ]


# -- the whole screen ---------------------------------------------------------------------------


def test_screen_at_80_by_24() -> None:
    lines = plain(screen(demo_snapshot()))
    assert lines[0].startswith(" np m · /work/demo")
    assert lines[0].endswith(f"session {SID} · active")
    assert lines[1:9] == [
        "Goal: Add CSV export to the report page",
        "Issue #42. Touches report/views.py and report/export.py.",
        "",
        "☑ t01 Read the report views",
        "⟳ t02 Write the CSV serializer",
        "☐ t03 Add the download button",
        "⊗ t04 Support Excel",
        "1/4 completed · 1 in progress · 1 cancelled",
    ]
    assert lines[9].startswith("─ Events, newest first ─")
    assert lines[9].endswith(" 1–9 of 9 ─")
    assert lines[10] == '#9 2026-05-06 08:24:00 task t04 "Support Excel": ☐ pending → ⊗ cancelled —'
    assert lines[11] == "                       reason: The operator said CSV is enough"
    assert lines[20] == "#1 2026-05-06 08:16:00 session started in /work/demo"
    assert lines[-1] == " q quit · ↑↓ PgUp PgDn Home End scroll events · Tab tasks · d descr. (off)"


def test_wide_screens_show_the_legend_beside_the_progress() -> None:
    lines = plain(screen(demo_snapshot(), width=120))
    progress = next(line for line in lines if line.startswith("1/4 completed"))
    assert progress.endswith("Legend: ☐ pending ⟳ in progress ☑ completed ⊗ cancelled")
    assert len(progress) == 120


def test_d_shows_task_descriptions() -> None:
    snap = demo_snapshot()
    off = plain(screen(snap))
    on = plain(screen(snap, descriptions=True))
    assert "    Use the csv module; UTF-8." not in off
    assert on[on.index("⟳ t02 Write the CSV serializer") + 1] == "    Use the csv module; UTF-8."
    assert on[on.index("☐ t03 Add the download button") + 1] == "    Next to Print."
    assert on[-1].endswith("d descriptions (on)")


def test_the_screen_prints_through_rich_the_same() -> None:
    frame = screen(demo_snapshot(), width=72, height=20)
    console = Console(width=72, height=20, record=True, file=io.StringIO(), color_system=None)
    console.print(Group(*frame.lines))
    exported = console.export_text().rstrip("\n").split("\n")
    assert [line.rstrip() for line in exported] == plain(frame)


def test_styles_mark_status_and_reason() -> None:
    frame = screen(demo_snapshot())
    styled = Console(width=80, file=io.StringIO(), color_system="truecolor", record=True)
    styled.print(Group(*frame.lines))
    html = styled.export_text(styles=True)
    assert "\x1b[" in html  # styled on a terminal
    first, second = frame.lines[10], frame.lines[11]  # the reason wrapped onto the second
    spans = {
        line.plain[s.start : s.end]: str(s.style) for line in (first, second) for s in line.spans
    }
    assert spans["⊗ cancelled"] == "dim"
    assert spans["The operator said CSV is enough"] == "italic"
    done = frame.lines[4]
    assert done.plain.startswith("☑ t01")
    assert {str(s.style) for s in done.spans} >= {"green", "cyan"}


# -- empty states -------------------------------------------------------------------------------


def test_a_fresh_session_without_goal_tasks_or_events() -> None:
    snap = Snapshot(directory=DIR, plan=Plan(session(), None, ()), events=())
    lines = plain(screen(snap))
    assert lines[1:4] == ["Goal: (not set yet)", "", "(no tasks yet)"]
    assert lines[4].startswith("0/0 completed ")
    assert lines[4].endswith("Legend: ☐ pending ⟳ in progress ☑ completed")
    assert lines[5].endswith("─")
    assert "of" not in lines[5]
    assert lines[6] == "(no events yet)"
    text = plain_view(snap)
    assert "Goal: (not set yet)\n\n(no tasks yet)\n0/0 completed\nLegend:" in text
    assert "Events, newest first:\n(no events yet)\n" in text


def test_no_session_here_lists_the_active_sessions_elsewhere() -> None:
    others = (
        session("01JOTHER000000000000000001", "/srv/api"),
        session("01JOTHER000000000000000002", "/home/me/site"),
    )
    snap = Snapshot(directory="/home/me/empty", elsewhere=others)
    lines = plain(screen(snap, width=80, height=16))
    assert lines[0].startswith(" np m · /home/me/empty")
    assert lines[0].endswith("no session")
    body = "\n".join(lines)
    assert "No active session in /home/me/empty or any folder above it." in body
    assert "switches to it as soon as it starts" in body
    assert "Active sessions elsewhere (np ls):" in body
    assert "  01JOTHER000000000000000001  2026-05-06 08:30:00  /srv/api" in lines
    assert "  01JOTHER000000000000000002  2026-05-06 08:30:00  /home/me/site" in lines
    assert "Watch one of them with: np m --session SID" in lines
    assert lines[-1].startswith(" q quit")


def test_no_session_anywhere() -> None:
    snap = Snapshot(directory="/tmp/x")
    text = plain_view(snap)
    assert "No active session in /tmp/x or any folder above it." in text
    assert "switches to it" not in text  # the one-shot view does not wait
    assert "No active sessions anywhere else (np ls)." in text


def test_an_archived_session() -> None:
    plan, events = demo_plan()
    archived = Plan(session(state=SessionState.ARCHIVED), plan.goal, plan.tasks)
    waiting = plain(screen(Snapshot(directory=DIR, plan=archived, events=events)))
    assert waiting[0].endswith("· archived")
    assert waiting[1] == "This session is archived; waiting for a new one in /work/demo (np s)."
    pinned = plain(screen(Snapshot(directory="/x", plan=archived, events=events, pinned=True)))
    assert pinned[1] == "This session is archived (read-only)."


# -- big plans, scrolling, odd sizes ---------------------------------------------------------


def big_snapshot(n_tasks: int = 60, n_events: int = 300) -> Snapshot:
    tasks = tuple(
        task(i, f"Task number {i}", Status.COMPLETED if i < 30 else Status.PENDING)
        for i in range(n_tasks)
    )
    tasks = tuple(
        t if t.id != "t30" else task(30, "Task number 30", Status.IN_PROGRESS) for t in tasks
    )
    log = [added(s, tasks[s % n_tasks]) for s in range(1, n_events + 1)]
    goal = Goal("Big", "", at(0))
    return Snapshot(directory=DIR, plan=Plan(session(), goal, tasks), events=tuple(reversed(log)))


def test_long_plans_keep_the_task_in_progress_in_view() -> None:
    lines = plain(screen(big_snapshot(), height=30))
    assert "⟳ t30 Task number 30" in lines
    above = next(line for line in lines if "more above" in line)
    below = next(line for line in lines if "more below" in line)
    shown = sum(1 for line in lines if line.startswith(("☑ t", "☐ t", "⟳ t")))
    assert int(above.split()[1]) + shown + int(below.split()[1]) == 60
    log_title = next(line for line in lines if line.startswith("─ Events"))
    assert log_title.endswith(" of 300 ─")
    assert sum(1 for line in lines if line.startswith("#")) >= 5  # the log keeps its room


def test_scrolling_the_event_log() -> None:
    snap = big_snapshot()
    top = screen(snap, height=30)
    assert top.offset == 0
    assert top.page >= 5
    down = screen(snap, height=30, offset=3)
    first = next(line for line in plain(down) if line.startswith("#"))
    assert first.startswith("#297 ")
    assert "↑ 3 newer · 4–" in next(x for x in plain(down) if x.startswith("─ E"))
    end = screen(snap, height=30, offset=10_000)  # clamped to the last page
    assert end.offset == end.max_offset == 300 - end.page
    assert plain(end)[-2].startswith("  #1 ")


def test_piped_view_is_complete_but_caps_the_log() -> None:
    text = plain_view(big_snapshot(n_events=250))
    assert "☐ t59 Task number 59" in text  # every task
    assert "#250 " in text
    assert "#51 " in text
    assert "#50 " not in text
    assert text.endswith("… and 50 older events (np export has them all)\n")


@pytest.mark.parametrize("width", [1, 2, 5, 9, 20, 33, 47])
@pytest.mark.parametrize("height", [1, 2, 3, 5, 8])
def test_tiny_terminals_do_not_break(width: int, height: int) -> None:
    for snap in (demo_snapshot(), Snapshot(directory=DIR), big_snapshot(10, 20)):
        screen(snap, width=width, height=height, descriptions=True)


def test_long_directories_are_shortened_from_the_left() -> None:
    deep = "/very/long" * 20 + "/project"
    plan, _ = demo_plan()
    snap = Snapshot(directory=deep, plan=Plan(session(directory=deep), plan.goal, plan.tasks))
    head = plain(screen(snap, width=60))[0]
    assert head.startswith(" np m · …")
    assert "/project" in head
    assert head.endswith("active")


def test_a_shared_databases_scope_is_shown_in_the_header_and_the_list() -> None:
    import attrs

    from server.monitor.view import header, no_session_lines

    plain_header = header(Snapshot(directory=DIR, plan=Plan(session(), None, ())), 120).plain
    scoped = attrs.evolve(session(), scope="ci-runner-7")
    shown = header(Snapshot(directory=DIR, plan=Plan(scoped, None, ())), 120).plain
    assert "ci-runner-7 · session" in shown and "ci-runner-7" not in plain_header
    listed = no_session_lines(Snapshot(directory="/x", elsewhere=(scoped,)), 120, live=True)
    assert any("ci-runner-7" in line.plain for line in listed)


def test_the_task_list_scrolls_to_every_task_of_a_long_plan() -> None:
    """202 tasks: the person scrolls the list (ViewState.task_start, set by the keys after
    Tab); every task can be brought into view, and End shows the last one."""
    snap = big_snapshot(n_tasks=202)
    auto = screen(snap, height=30)
    assert "⟳ t30 Task number 30" in plain(auto)  # by default: around the agent's focus
    assert auto.task_start > 0 and auto.task_page > 3

    seen: set[str] = set()
    start = 0
    while True:
        frame = screen(snap, height=30, task_start=start)
        assert frame.task_start == min(start, frame.task_max_start)
        lines = plain(frame)
        shown = [line.split()[1] for line in lines if line.startswith(("☑ t", "☐ t", "⟳ t"))]
        assert len(shown) == frame.task_page
        seen.update(shown)
        if start == 0:
            assert not any("more above" in line for line in lines)
        if frame.task_start == frame.task_max_start:
            break
        start += frame.task_page
    assert seen == {f"t{i:02d}" for i in range(202)}
    end = screen(snap, height=30, task_start=10_000)  # clamped: the last page
    lines = plain(end)
    assert end.task_start == end.task_max_start
    assert any(line.startswith("☐ t201 ") for line in lines)
    assert not any("more below" in line for line in lines)
    above = next(line for line in lines if "more above" in line)
    assert int(above.split()[1]) == end.task_start
    # the event log keeps its room and its own scrolling
    assert sum(1 for line in lines if line.startswith("#")) >= 5
