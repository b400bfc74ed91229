"""Hand-built domain values for the monitor's view tests (fixed ids and times)."""

from __future__ import annotations

from typing import Any

from store import Event, EventType, Goal, Plan, Session, SessionState, Status, Task

SID = "01JTEST0000000000000000000"
DIR = "/work/demo"
T0 = "2026-05-06T08:15:00.000000Z"


def at(minute: int, second: int = 0) -> str:
    return f"2026-05-06T08:{minute:02d}:{second:02d}.000000Z"


def session(
    sid: str = SID, directory: str = DIR, state: SessionState = SessionState.ACTIVE
) -> Session:
    archived = at(59) if state is SessionState.ARCHIVED else None
    return Session(sid, directory, state, T0, at(30), archived)


def task(n: int, title: str, status: Status = Status.PENDING, description: str = "") -> Task:
    return Task(f"t{n:02d}", title, description, status, T0, T0, n)


def event(
    seq: int, type: EventType, payload: dict[str, Any], reason: str | None = None, when: str = ""
) -> Event:
    return Event(SID, seq, when or at(15 + seq), type, reason, "np test", payload)


def added(seq: int, t: Task) -> Event:
    snap = {"id": t.id, "title": t.title, "description": t.description, "status": "pending"}
    return event(seq, EventType.TASK_ADDED, {"task": snap})


def moved(seq: int, t: Task, before: Status, after: Status, reason: str | None = None) -> Event:
    payload = {
        "task_id": t.id,
        "title": t.title,
        "status_before": str(before),
        "status_after": str(after),
    }
    return event(seq, EventType.TASK_STATUS_CHANGED, payload, reason)


def demo_plan() -> tuple[Plan, tuple[Event, ...]]:
    """A small, realistic plan and its log (newest first)."""
    goal = Goal(
        "Add CSV export to the report page",
        "Issue #42. Touches report/views.py and report/export.py.",
        T0,
    )
    tasks = (
        task(1, "Read the report views", Status.COMPLETED),
        task(2, "Write the CSV serializer", Status.IN_PROGRESS, "Use the csv module; UTF-8."),
        task(3, "Add the download button", Status.PENDING, "Next to Print."),
        task(4, "Support Excel", Status.CANCELLED),
    )
    log = [
        event(1, EventType.SESSION_STARTED, {"dir": DIR}),
        event(2, EventType.GOAL_SET, {"goal": {"title": goal.title, "description": ""}}),
        added(3, tasks[0]),
        added(4, tasks[1]),
        added(5, tasks[2]),
        added(6, tasks[3]),
        moved(7, tasks[0], Status.PENDING, Status.COMPLETED),
        moved(8, tasks[1], Status.PENDING, Status.IN_PROGRESS),
        moved(9, tasks[3], Status.PENDING, Status.CANCELLED, "The operator said CSV is enough"),
    ]
    return Plan(session(), goal, tasks), tuple(reversed(log))
