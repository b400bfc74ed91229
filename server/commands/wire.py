"""The JSON shapes of SPEC §5: typed plain dicts with snake_case keys, built explicitly.

One place turns store values into wire objects, so the CLI's ``--json``, the LSP server's
results and the MCP door's are the same bytes. Their ``TypedDict`` s are in
``server.commands.shapes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from server.text.guide import Door
from server.text.render import event_details, notice_text, plan_text
from store import Changes, Event, Goal, Plan, Task, rows

if TYPE_CHECKING:
    from store.receipts import Receipt

    from .shapes import ChangeJSON, EventJSON, GoalJSON, PlanJSON, TaskJSON


session_json = rows.session_json  # the same shape as the event log records


def goal_json(goal: Goal | None) -> GoalJSON | None:
    return None if goal is None else rows.goal_snapshot(goal)


def task_json(t: Task) -> TaskJSON:
    return {
        **rows.task_dict(t),
        "reason": t.reason,
        "after": list(t.after),
        "claimed_by": t.claimed_by,
        "claim_expires_at": t.claim_expires_at,
        "ask": t.ask.to_dict() if t.ask is not None else None,
    }


def event_json(event: Event) -> EventJSON:
    return {
        "sid": event.sid,
        "seq": event.seq,
        "at": event.at,
        "type": str(event.type),
        "reason": event.reason,
        "cmd": event.cmd,
        "actor": event.actor,
        "payload": event.payload,
    }


def receipts_json(receipts: Sequence[Receipt]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in receipts]


def answer_json(event: Event) -> dict[str, Any]:
    """An answer to the actor's own question: the task, the question, the answer, who."""
    p = event.payload
    return {
        "seq": event.seq,
        "at": event.at,
        "by": event.actor,
        "task_id": p["task_id"],
        "title": p["title"],
        "question": p["question"],
        "answer": p["answer"],
        "choice": bool(p.get("choice")),
    }


def change_json(event: Event) -> ChangeJSON:
    """One change another actor made: who, when, what (one neutral line), why."""
    return {
        "seq": event.seq,
        "at": event.at,
        "actor": event.actor,
        "type": str(event.type),
        "summary": event_details(event),
        "reason": event.reason,
    }


def with_changes(result: dict[str, Any], changes: Changes) -> dict[str, Any]:
    """``result`` with ``changes`` (always: a list, newest last), and when there are any,
    ``notice`` (the neutral text every door shows first) and, past the bound,
    ``changes_folded`` ``{count, from_seq, to_seq}`` for the older ones."""
    out = {**result, "changes": [change_json(e) for e in changes.events]}
    if changes.answers:  # answers to this actor's own questions: every one, shown first
        out["answers"] = [answer_json(e) for e in changes.answers]
    if changes.folded:
        out["changes_folded"] = {
            "count": changes.folded,
            "from_seq": changes.folded_from,
            "to_seq": changes.folded_to,
        }
    if changes:
        out["notice"] = notice_text(changes)
    return out


def plan_json(
    plan: Plan,
    *,
    text: bool = True,
    door: Door = "json",
    brief: bool = False,
    legend: bool | None = None,
) -> PlanJSON:
    """A plan result; ``text=False`` leaves out the rendered text (the JSON export). The
    text is worded for ``door``; ``brief`` cuts the goal's description (what writes print)."""
    out: PlanJSON = {
        "session": session_json(plan.session),
        "goal": goal_json(plan.goal),
        "tasks": [task_json(t) for t in plan.tasks],
        "counts": plan.counts(),
    }
    if text:
        out["text"] = plan_text(plan, door=door, brief=brief, legend=legend)
    return out
