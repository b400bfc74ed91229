"""np's domain store: sessions, goals, tasks and the append-only event log in SQLite.

This package never imports ``server``. Its public surface is re-exported here.
"""

from .errors import (
    ALL_ERRORS,
    GoalAlreadySet,
    GoalNotSet,
    InvalidArgument,
    NoActiveSession,
    NpError,
    ReasonRequired,
    SessionAlreadyActive,
    StorageBusy,
    StorageError,
    TaskNotFound,
)
from .store import Store
from .types import (
    GLYPHS,
    Event,
    EventType,
    Goal,
    NewTask,
    Plan,
    Session,
    SessionState,
    Status,
    StatusChange,
    Task,
)
from .unit import UnitOfWork

__all__ = [
    "ALL_ERRORS",
    "GLYPHS",
    "Event",
    "EventType",
    "Goal",
    "GoalAlreadySet",
    "GoalNotSet",
    "InvalidArgument",
    "NewTask",
    "NoActiveSession",
    "NpError",
    "Plan",
    "ReasonRequired",
    "Session",
    "SessionAlreadyActive",
    "SessionState",
    "Status",
    "StatusChange",
    "StorageBusy",
    "StorageError",
    "Store",
    "Task",
    "TaskNotFound",
    "UnitOfWork",
]
