"""The JSON shapes of SPEC §5 as ``TypedDict`` s: every field a result object carries
(a session's, a goal's and a task's own fields are the store's: ``store.shapes``).

For type checking and for readers: ``server.commands.wire`` builds these shapes as plain
dicts and imports this module only under ``TYPE_CHECKING``, so defining the classes costs a
CLI write nothing. Times are RFC 3339 UTC strings; statuses and states their snake_case names.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from store.shapes import GoalJSON, SessionJSON, TaskFieldsJSON

__all__ = [
    "ChangeJSON",
    "EventJSON",
    "GoalJSON",
    "PlanJSON",
    "SessionJSON",
    "TaskJSON",
]


class TaskJSON(TaskFieldsJSON):
    reason: str | None  # why it is failed or cancelled; null otherwise
    after: list[str]  # the ids of the tasks it waits for
    claimed_by: str | None  # who holds it (a live or an expired claim); null: nobody
    claim_expires_at: str | None  # when that claim expires unless its holder writes
    ask: dict[str, Any] | None  # its open question {question, choices, by, at, seq}; or null


class EventJSON(TypedDict):
    sid: str
    seq: int
    at: str
    type: str
    reason: str | None
    cmd: str
    actor: str | None  # who: "agent", "Neovim", "Visual Studio Code" …; null before 0.2
    payload: dict[str, Any]
    # np.events only: which other actors working on the plan have seen it, and when
    receipts: NotRequired[list[dict[str, Any]]]


class ChangeJSON(TypedDict):
    """One item of a result's ``changes``: what another actor did since you last looked."""

    seq: int
    at: str
    actor: str | None
    type: str
    summary: str  # one neutral line: the task or goal touched, before → after
    reason: str | None


class PlanJSON(TypedDict):
    session: SessionJSON
    goal: GoalJSON | None
    tasks: list[TaskJSON]
    counts: dict[str, int]
    text: NotRequired[str]  # the plan text (SPEC §4); absent from the JSON export
    # What other actors changed since this actor last looked (results for an actor only):
    changes: NotRequired[list[ChangeJSON]]  # the newest NOTICE_LIMIT, newest last
    changes_folded: NotRequired[dict[str, int]]  # {count, from_seq, to_seq} of older ones
    notice: NotRequired[str]  # the same as neutral text, to show first; only when any
    # Answers to this actor's own questions (every one, never folded), shown first, once:
    answers: NotRequired[list[dict[str, Any]]]
