"""The JSON shapes of SPEC §5: typed plain dicts with snake_case keys, built explicitly.

One place turns store values into wire objects, so the CLI's ``--json``, the LSP server's
results and the MCP door's are the same bytes. Their ``TypedDict`` s are in
``server.commands.shapes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.text.guide import Door
from server.text.render import plan_text
from store import Event, Goal, Plan, Session, Task

if TYPE_CHECKING:
    from .shapes import EventJSON, GoalJSON, PlanJSON, SessionJSON, TaskJSON


def session_json(s: Session) -> SessionJSON:
    return {
        "sid": s.sid,
        "dir": s.dir,
        "state": str(s.state),
        "created_at": s.created_at,
        "last_updated_at": s.last_updated_at,
        "archived_at": s.archived_at,
    }


def goal_json(goal: Goal | None) -> GoalJSON | None:
    if goal is None:
        return None
    return {"title": goal.title, "description": goal.description, "updated_at": goal.updated_at}


def task_json(t: Task) -> TaskJSON:
    return {
        "id": t.id,
        "title": t.title,
        "description": t.description,
        "status": str(t.status),
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    }


def event_json(event: Event) -> EventJSON:
    return {
        "sid": event.sid,
        "seq": event.seq,
        "at": event.at,
        "type": str(event.type),
        "reason": event.reason,
        "cmd": event.cmd,
        "payload": event.payload,
    }


def plan_json(plan: Plan, *, text: bool = True, door: Door = "cli") -> PlanJSON:
    """A plan result; ``text=False`` leaves out the rendered text (the JSON export). The
    text is worded for ``door`` where it names a call (a folded plan's "list them")."""
    out: PlanJSON = {
        "session": session_json(plan.session),
        "goal": goal_json(plan.goal),
        "tasks": [task_json(t) for t in plan.tasks],
        "counts": plan.counts(),
    }
    if text:
        out["text"] = plan_text(plan, door=door)
    return out
