"""The JSON shapes of SPEC §5: plain dicts with snake_case keys, built explicitly.

One place turns store values into wire objects, so the CLI's ``--json`` and the LSP
server's results are the same bytes.
"""

from __future__ import annotations

from typing import Any

from server.text.render import plan_text
from store import Event, Goal, Plan, Session, Task
from store.rows import goal_snapshot, session_dict, task_dict


def session_json(session: Session) -> dict[str, Any]:
    out = session_dict(session)
    assert out is not None
    return out


def goal_json(goal: Goal | None) -> dict[str, Any] | None:
    return goal_snapshot(goal) if goal is not None else None


def task_json(task: Task) -> dict[str, Any]:
    return task_dict(task)


def event_json(event: Event) -> dict[str, Any]:
    return {
        "sid": event.sid,
        "seq": event.seq,
        "at": event.at,
        "type": str(event.type),
        "reason": event.reason,
        "cmd": event.cmd,
        "payload": event.payload,
    }


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "session": session_json(plan.session),
        "goal": goal_json(plan.goal),
        "tasks": [task_json(t) for t in plan.tasks],
        "counts": plan.counts(),
        "text": plan_text(plan),
    }
