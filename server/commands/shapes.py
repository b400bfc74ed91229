"""The JSON shapes of SPEC §5 as ``TypedDict`` s: every field a result object carries.

For type checking and for readers: ``server.commands.wire`` builds these shapes as plain
dicts and imports this module only under ``TYPE_CHECKING``, so defining the classes costs a
CLI write nothing. Times are RFC 3339 UTC strings; statuses and states their snake_case names.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class SessionJSON(TypedDict):
    sid: str
    dir: str
    state: str  # "active" | "archived"
    created_at: str
    last_updated_at: str
    archived_at: str | None


class GoalJSON(TypedDict):
    title: str
    description: str
    updated_at: str


class TaskJSON(TypedDict):
    id: str
    title: str
    description: str
    status: str  # pending | in_progress | completed | failed | cancelled
    created_at: str
    updated_at: str


class EventJSON(TypedDict):
    sid: str
    seq: int
    at: str
    type: str
    reason: str | None
    cmd: str
    payload: dict[str, Any]


class PlanJSON(TypedDict):
    session: SessionJSON
    goal: GoalJSON | None
    tasks: list[TaskJSON]
    counts: dict[str, int]
    text: NotRequired[str]  # the plan text (SPEC §4); absent from the JSON export


class ErrorJSON(TypedDict):
    code: int
    kind: str
    message: str
    data: dict[str, Any]  # kind, field, detail and the error's specifics
