"""np's domain store: sessions, goals, tasks and the append-only event log in SQLite.

This package never imports ``server``. Its public surface is importable from here, but
loaded lazily (PEP 562): ``import store.paths`` or ``from store import NpError`` loads
neither sqlite3 nor attrs; ``from store import Store`` loads what a database needs.

Modules: ``types`` (value types), ``errors``, ``limits``, ``text`` (well-formed text,
Unicode-category rules, shortening), ``ids``, ``clock``, ``paths``,
``db`` (connection, transactions, error classification), ``schema`` and ``migrations``,
``rows`` (row conversion), ``queries`` (reads shared by ``Store`` and the unit of work),
``store`` (``Store``), ``unit`` (``UnitOfWork``), ``watch`` (``ChangeFeed``) and
``maintenance`` (doctor and backup).
"""

from __future__ import annotations

# Neither ``typing`` nor ``importlib`` is imported here: this module is on every CLI path.
# mypy reads any module-level ``TYPE_CHECKING`` as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .errors import (
        ALL_ERRORS,
        ChangedSinceSeen,
        DependencyRefused,
        GoalAlreadySet,
        GoalNotSet,
        InvalidArgument,
        NoActiveSession,
        NpError,
        ReasonRequired,
        SessionAlreadyActive,
        StorageBusy,
        StorageError,
        TaskClaimed,
        TaskNotFound,
    )
    from .store import Store
    from .types import (
        GLYPHS,
        Changes,
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

_ERRORS = (
    "ALL_ERRORS",
    "ChangedSinceSeen",
    "DependencyRefused",
    "GoalAlreadySet",
    "GoalNotSet",
    "InvalidArgument",
    "NoActiveSession",
    "NpError",
    "ReasonRequired",
    "SessionAlreadyActive",
    "StorageBusy",
    "StorageError",
    "TaskClaimed",
    "TaskNotFound",
)
_TYPES = (
    "GLYPHS",
    "Changes",
    "Event",
    "EventType",
    "Goal",
    "NewTask",
    "Plan",
    "Session",
    "SessionState",
    "Status",
    "StatusChange",
    "Task",
)
_WHERE: dict[str, str] = {
    **dict.fromkeys(_ERRORS, "errors"),
    **dict.fromkeys(_TYPES, "types"),
    "Store": "store",
    "UnitOfWork": "unit",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(__import__(f"{__name__}.{module}", fromlist=[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    "ALL_ERRORS",
    "GLYPHS",
    "ChangedSinceSeen",
    "Changes",
    "DependencyRefused",
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
    "TaskClaimed",
    "TaskNotFound",
    "UnitOfWork",
]
