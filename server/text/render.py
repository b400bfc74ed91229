"""Text for agents and people: the compact plan (SPEC §4), task lists, event lines, export.

Token-frugal by design: one glyph per status, short ids, descriptions only where they help
the next step, and a legend that names failed/cancelled only when some task has them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from store import GLYPHS, Event, EventType, Plan, Status, Task
from store.types import PREVIEW_LIMIT, preview_ids

from .guide import LIST_MORE, Door

OPEN = (Status.PENDING, Status.IN_PROGRESS)
LEGEND_ALWAYS = (Status.PENDING, Status.IN_PROGRESS, Status.COMPLETED)
LEGEND_IF_PRESENT = (Status.FAILED, Status.CANCELLED)


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def task_line(task: Task, *, description: bool) -> str:
    line = f"{task.status.glyph} {task.id} {task.title}"
    if description and task.description.strip():
        line += "\n" + indent(task.description)
    return line


def _legend(present: Iterable[Status]) -> str:
    found = set(present)
    parts = [f"{GLYPHS[s]} {s.label}" for s in LEGEND_ALWAYS]
    parts += [f"{GLYPHS[s]} {s.label}" for s in LEGEND_IF_PRESENT if s in found]
    return "Legend: " + " ".join(parts)


def legend(tasks: Iterable[Task]) -> str:
    return _legend(t.status for t in tasks)


def task_lines(tasks: Sequence[Task], *, all_descriptions: bool = False) -> list[str]:
    """One line per task; descriptions of open (pending, in progress) tasks only, unless
    ``all_descriptions``."""
    return [task_line(t, description=all_descriptions or t.status in OPEN) for t in tasks]


def plan_text(plan: Plan, *, limit: int = PREVIEW_LIMIT, door: Door = "cli") -> str:
    """The compact plan of SPEC §4. A long plan shows the tasks ``preview_ids`` picks (a
    preview read by the store already holds just those) and counts the rest, with the
    call that lists them in ``door``'s terms: nothing is silently left out."""
    shown: Sequence[Task] = plan.tasks
    if plan.complete:
        picked = preview_ids([(t.id, t.status) for t in plan.tasks], limit)
        if picked is not None:
            shown = [t for t in plan.tasks if t.id in picked]
    counts = plan.counts()
    hidden = {s: counts[s.value] for s in Status}
    for t in shown:
        hidden[t.status] -= 1

    out: list[str] = []
    if not plan.session.active:
        out.append(f"(archived session {plan.session.sid}; read-only)")
    out.append(goal_text(plan))
    out.append("")
    if not shown and not any(hidden.values()):
        out.append("(no tasks yet)")
    out.extend(task_lines(shown))
    for status, n in hidden.items():
        if n:
            out.append(
                f"{status.glyph} … {n:,} more {status.label} "
                f"(list them: {LIST_MORE[door].format(status=status.value)})"
            )
    out.append("")
    out.append(_legend(s for s in Status if counts[s.value]))
    return "\n".join(out)


def goal_text(plan: Plan) -> str:
    if plan.goal is None:
        return "Goal: (not set)"
    text = f"Goal: {plan.goal.title}"
    if plan.goal.description.strip():
        text += "\n" + plan.goal.description
    return text


def tasks_text(tasks: Sequence[Task]) -> str:
    if not tasks:
        return "(no tasks)"
    return "\n".join([*task_lines(tasks, all_descriptions=True), "", legend(tasks)])


def _quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return '"' + (text if len(text) <= limit else text[: limit - 1] + "…") + '"'


def _text_change(before: dict[str, str], after: dict[str, str]) -> str:
    parts = []
    if before["title"] != after["title"]:
        parts.append(f"title {_quote(before['title'])} → {_quote(after['title'])}")
    if before["description"] != after["description"]:
        parts.append("description changed")
    return "; ".join(parts) or "no visible change"


def event_details(event: Event) -> str:
    """What an event did, in one line: the task or goal it touched, before → after."""
    p: dict[str, Any] = event.payload
    match event.type:
        case EventType.SESSION_STARTED:
            return f"session started in {p.get('dir', '?')}"
        case EventType.SESSION_ARCHIVED:
            return "session archived"
        case EventType.GOAL_SET:
            return f"goal set: {_quote(p['goal']['title'])}"
        case EventType.GOAL_UPDATED:
            return "goal changed: " + _text_change(p["goal_before"], p["goal_after"])
        case EventType.TASK_ADDED:
            t = p["task"]
            return f"task {t['id']} added: {_quote(t['title'])}"
        case EventType.TASK_UPDATED:
            return f"task {p['task_id']} edited: " + _text_change(p["before"], p["after"])
        case EventType.TASK_STATUS_CHANGED:
            b, a = Status(p["status_before"]), Status(p["status_after"])
            return (
                f"task {p['task_id']} {_quote(p['title'], 40)}: "
                f"{b.glyph} {b.label} → {a.glyph} {a.label}"
            )


def short_time(at: str) -> str:
    """``2026-11-24T23:31:04.345525Z`` → ``2026-11-24 23:31:04``."""
    return at[:19].replace("T", " ")


def event_line(event: Event) -> str:
    line = f"#{event.seq} {short_time(event.at)} {event_details(event)}"
    if event.reason:
        line += f" — reason: {' '.join(event.reason.split())}"
    return line


def events_text(events: Sequence[Event]) -> str:
    return "\n".join(event_line(e) for e in events) if events else "(no events)"


def export_markdown(plan: Plan, events: Sequence[Event]) -> str:
    s = plan.session
    counts = plan.counts()
    done = counts["completed"]
    out = [
        f"# {plan.goal.title if plan.goal else 'Plan (no goal set)'}",
        "",
        f"- Session: `{s.sid}` ({s.state})",
        f"- Directory: `{s.dir}`",
        f"- Started: {s.created_at} · last updated: {s.last_updated_at}"
        + (f" · archived: {s.archived_at}" if s.archived_at else ""),
        f"- Progress: {done}/{len(plan.tasks)} completed"
        + "".join(
            f" · {counts[k]} {k}" for k in ("in_progress", "failed", "cancelled") if counts[k]
        ),
        "",
        "## Goal",
        "",
    ]
    if plan.goal is None:
        out.append("_No goal set._")
    else:
        out += [f"**{plan.goal.title}**", ""]
        if plan.goal.description.strip():
            out.append(plan.goal.description)
    out += ["", "## Tasks", ""]
    if not plan.tasks:
        out.append("_No tasks._")
    for t in plan.tasks:
        out.append(f"- {t.status.glyph} `{t.id}` **{t.title}** — {t.status.label}")
        if t.description.strip():
            out.append(indent(t.description, "  "))
    out += ["", "## Event log", ""]
    for e in events:
        out.append(f"{e.seq}. `{e.at}` **{e.type}** — {event_details(e)}")
        if e.reason:
            out.append(f"   - Reason: {' '.join(e.reason.split())}")
        out.append(f"   - Command: `{e.cmd}`")
    out.append("")
    return "\n".join(out)


def export_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
