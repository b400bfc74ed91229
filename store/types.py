"""Value types of the domain: immutable attrs classes with a small, explicit surface."""

from __future__ import annotations

import enum
from typing import Any

import attrs


class Status(enum.StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def glyph(self) -> str:
        return GLYPHS[self]

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @property
    def needs_reason(self) -> bool:
        return self in (Status.FAILED, Status.CANCELLED)


GLYPHS: dict[Status, str] = {
    Status.PENDING: "☐",
    Status.IN_PROGRESS: "⟳",
    Status.COMPLETED: "☑",
    Status.FAILED: "☒",
    Status.CANCELLED: "⊗",
}


class SessionState(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class EventType(enum.StrEnum):
    SESSION_STARTED = "session_started"
    GOAL_SET = "goal_set"
    GOAL_UPDATED = "goal_updated"
    TASK_ADDED = "task_added"
    TASK_UPDATED = "task_updated"
    TASK_STATUS_CHANGED = "task_status_changed"
    SESSION_ARCHIVED = "session_archived"


@attrs.frozen
class Session:
    sid: str
    dir: str
    state: SessionState
    created_at: str
    last_updated_at: str
    archived_at: str | None = None

    @property
    def active(self) -> bool:
        return self.state is SessionState.ACTIVE


@attrs.frozen
class Goal:
    title: str
    description: str
    updated_at: str


@attrs.frozen
class Task:
    id: str
    title: str
    description: str
    status: Status
    created_at: str
    updated_at: str
    created_seq: int


@attrs.frozen
class Event:
    sid: str
    seq: int
    at: str
    type: EventType
    reason: str | None
    cmd: str
    payload: dict[str, Any]


@attrs.frozen
class Plan:
    """A consistent snapshot of one session: read in one read transaction."""

    session: Session
    goal: Goal | None
    tasks: tuple[Task, ...]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(Status, 0)
        for task in self.tasks:
            counts[task.status] += 1
        return {str(status): n for status, n in counts.items()}


@attrs.frozen
class NewTask:
    title: str
    description: str = ""


@attrs.frozen
class StatusChange:
    id: str
    status: Status
    reason: str | None = None


@attrs.frozen
class Change:
    """One committed change to one session, as seen by a watcher (any process)."""

    sid: str
    dir: str
    seq: int
    type: EventType
