"""np's domain store: sessions, goals, tasks and the append-only event log, on SQLite
(one file per machine, the default) or PostgreSQL (shared by machines).

One engine-neutral core with two engines below it. This package never imports ``server``.
Its public surface is importable from here, but loaded lazily (PEP 562): ``import
store.paths`` or ``from store import NpError`` loads neither sqlite3 nor attrs; ``from
store import Store`` loads what a database needs.

The core names no driver: ``types`` (value types), ``errors``, ``limits``, ``text``
(well-formed text, Unicode-category rules, shortening), ``ids``, ``clock``, ``paths``,
``settings`` (every setting both engines share; which engine a location names), ``url``
(PostgreSQL URLs shown without secrets), ``engine`` (the seam: the protocols an engine
implements and the registry that loads one by name), ``rows`` (row conversion),
``queries`` (portable SQL shared by ``Store`` and the unit of work), ``store``
(``Store``), ``unit`` (``UnitOfWork``), ``feed`` (``Change``, the ``Feed`` protocol,
``open_feed``) and ``ops`` (doctor, backup, migrate, copy, with typed results).

The engines: ``sqlite`` (``store.sqlite.engine``, its schema and migrations, its feed and
maintenance) and ``postgres`` (``store.postgres.engine``, schema, feed, doctor, backup;
psycopg is imported only there). Neither imports the other.
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
