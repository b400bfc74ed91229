"""Domain errors. Each carries a stable ``kind`` and protocol ``code`` (SPEC §5).

Messages are one sentence for a person or an agent, saying what to do next. They never
carry stack traces or internal file paths.
"""

from __future__ import annotations

from typing import Any, ClassVar


class NpError(Exception):
    """Base of every error np reports to a user."""

    kind: ClassVar[str] = "error"
    code: ClassVar[int] = 1000

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data: dict[str, Any] = data

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "kind": self.kind,
            "message": self.message,
            "data": {"kind": self.kind, **self.data},
        }


class NoActiveSession(NpError):
    kind = "no_active_session"
    code = 1001


class SessionAlreadyActive(NpError):
    kind = "session_already_active"
    code = 1002


class GoalAlreadySet(NpError):
    kind = "goal_already_set"
    code = 1003


class GoalNotSet(NpError):
    kind = "goal_not_set"
    code = 1004


class TaskNotFound(NpError):
    kind = "task_not_found"
    code = 1005


class ReasonRequired(NpError):
    kind = "reason_required"
    code = 1006


class InvalidArgument(NpError):
    kind = "invalid_argument"
    code = 1007


class StorageBusy(NpError):
    """The write lock could not be had within the busy timeout and retries. Retryable."""

    kind = "storage_busy"
    code = 1008


class StorageError(NpError):
    """The database is unreadable, not a database, newer than this np, or not writable."""

    kind = "storage_error"
    code = 1009


ALL_ERRORS: tuple[type[NpError], ...] = (
    NoActiveSession,
    SessionAlreadyActive,
    GoalAlreadySet,
    GoalNotSet,
    TaskNotFound,
    ReasonRequired,
    InvalidArgument,
    StorageBusy,
    StorageError,
)
