"""Row ↔ value type conversion, in one place for the store and its unit of work."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .types import Ask, Event, EventType, Goal, Session, SessionState, Status, Task

if TYPE_CHECKING:
    from .shapes import GoalJSON, SessionJSON, TaskFieldsJSON

SESSION_COLS = "sid, dir, state, created_at, last_updated_at, archived_at, scope"
GOAL_COLS = "title, description, updated_at"
TASK_COLS = (
    "id, title, description, status, created_at, updated_at, created_seq, reason, "
    "claimed_by, claim_expires_at, ask"
)
EVENT_COLS = "sid, seq, at, type, reason, cmd, payload, actor"


def session(row: Sequence[Any]) -> Session:
    return Session(row[0], row[1], SessionState(row[2]), row[3], row[4], row[5], row[6])


def goal(row: Sequence[Any]) -> Goal:
    return Goal(row[0], row[1], row[2])


STATUS: dict[str, Status] = {s.value: s for s in Status}  # faster than Status(text) per row


def task(row: Sequence[Any], after: tuple[str, ...] = ()) -> Task:
    ask = Ask.from_dict(json.loads(row[10])) if row[10] is not None else None
    return Task(
        row[0],
        row[1],
        row[2],
        STATUS[row[3]],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        after,
        ask,
    )


def event(row: Sequence[Any]) -> Event:
    return Event(
        row[0], row[1], row[2], EventType(row[3]), row[4], row[5], json.loads(row[6]), row[7]
    )


# The shapes below are the event log's and the wire's alike (SPEC §5): built once, here.


def goal_snapshot(g: Goal) -> GoalJSON:
    return {"title": g.title, "description": g.description, "updated_at": g.updated_at}


def task_dict(t: Task) -> TaskFieldsJSON:
    """A task's own fields, as events record them and results begin them."""
    return {
        "id": t.id,
        "title": t.title,
        "description": t.description,
        "status": str(t.status),
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    }


def task_snapshot(t: Task) -> dict[str, Any]:
    """A task as a ``task_added`` event records it: with the seq that created it."""
    return {**task_dict(t), "created_seq": t.created_seq}


def session_json(s: Session) -> SessionJSON:
    out: SessionJSON = {
        "sid": s.sid,
        "dir": s.dir,
        "state": str(s.state),
        "created_at": s.created_at,
        "last_updated_at": s.last_updated_at,
        "archived_at": s.archived_at,
    }
    if s.scope:  # sessions on a shared PostgreSQL database; SQLite's have none
        out["scope"] = s.scope
    return out


def session_dict(s: Session | None) -> SessionJSON | None:
    return None if s is None else session_json(s)
