"""The engine seam: what an engine gives the engine-neutral core, and choosing one by URL.

np's core (``Store``, ``UnitOfWork``, the queries, the domain types, the change feed's
protocol, the maintenance verbs in ``store.ops``) names no driver. Each engine is a package
below it (``store.sqlite``, ``store.postgres``) whose ``engine`` module registers one
:class:`Engine` when imported. The core loads it by dotted name from :data:`ENGINES`, the
shape of SQLAlchemy's dialect registry and Django's ``load_backend``: nothing subclasses
``Store``, ``UnitOfWork`` or a feed, and the engine is chosen once, from the location.

What an engine provides:

* :class:`Engine` — per process: open a :class:`Database` or a :class:`~store.feed.Feed`,
  and the maintenance verbs (migrate, doctor, backup) with typed results;
* :class:`Database` — one open connection: read snapshots, the write transaction a
  :class:`~store.unit.UnitOfWork` runs in;
* :class:`Conn`/:class:`Cursor` — the PEP 249 subset the core's SQL runs through (qmark
  placeholders; an engine with another style converts placeholders and nothing else).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from .settings import engine_name

if TYPE_CHECKING:
    from datetime import datetime

    from .clock import Clock
    from .feed import Feed
    from .ops.results import BackupResult, Report
    from .types import Goal, Session, Task
    from .unit import UnitOfWork

#: The engine packages by the name :func:`store.settings.engine_name` gives a location.
ENGINES = {"sqlite": "store.sqlite", "postgresql": "store.postgres"}

Row = tuple[Any, ...]  # one result row: values as the driver gives them (str, int, None)
Params = Sequence[object]  # parameter values: str, int, float, None
Statement = tuple[str, tuple[object, ...]]


class Cursor(Protocol):
    """The result of one statement (PEP 249's cursor, as np uses it)."""

    def fetchone(self) -> Row | None: ...

    def fetchall(self) -> Sequence[Row]: ...

    def __iter__(self) -> Iterator[Row]: ...


class Conn(Protocol):
    """A connection that runs np's SQL: qmark placeholders, the portable dialect."""

    def execute(self, sql: str, params: Params = ..., /) -> Cursor: ...


@attrs.define
class Known:
    """What an engine read ahead about one session for a unit of work, all at once: the
    session, the seq its next event takes, its goal, what the unit's actor had seen
    (``seen_read``: whether that was read) and its tasks (None: too many, read by id)."""

    session: Session
    next_seq: int
    goal: Goal | None
    seen: int | None = None
    seen_read: bool = False
    tasks: dict[str, Task] | None = None
    fresh: bool = True  # False once the unit changed the session (read goal/tasks again)


class ReadAhead(Protocol):
    """What an engine adds to a :class:`~store.unit.UnitOfWork` (by composition: the unit
    is the same on every engine). An engine on a network reads what a command needs about
    its session in one round trip (:meth:`session`) and decides without holding a lock;
    it then sends every write with the ``COMMIT`` and retries the whole unit when another
    writer changed the session in between. An in-process engine needs none of it."""

    def session(self, *, directory: str | None = None, sid: str | None = None) -> Known | None:
        """The active session at or above ``directory`` (by path or by a join), or the
        session ``sid``, with what a unit reads about it; None when not found this way (the
        core then looks further and says why)."""
        ...

    def now(self) -> datetime | None:
        """The unit's time when the engine has its own clock (the server's), else None."""
        ...

    def key_later(self, actor: str, key: str) -> bool:
        """Whether the unit may skip reading its idempotency key (``actor``, ``key``): its
        insert, sent with the writes, refuses a key used before, and the unit then runs
        again, reading it (and any error the unit meets is believed only once the key is
        known unused)."""
        ...

    def before_start(self, scope: str) -> None:
        """Called before a unit inserts a session: serialise starts in ``scope``."""
        ...

    def after_start(self, scope: str, keys: Sequence[str], sid: str) -> None:
        """Called after a unit inserted session ``sid``: its write must fail (and be
        retried) when another active session is at one of ``keys`` by then."""
        ...


class Database(Protocol):
    """One open np database of one engine, used from one thread at a time."""

    name: str  # the engine's name: a key of ENGINES
    location: str  # the file path, or the URL (shown only through store.url.label)
    scope: str  # "" on SQLite; NP_SCOPE or the host name on a shared database

    @property
    def conn(self) -> Conn:
        """The open connection (it may change: a replaced file, a reconnect)."""
        ...

    def reading(
        self, prefetch: Sequence[Statement] = ()
    ) -> contextlib.AbstractContextManager[None]:
        """One consistent read snapshot; ``prefetch`` may be sent with its start."""
        ...

    def single(self) -> contextlib.AbstractContextManager[None]:
        """A read of one statement (no transaction needed where that saves a trip)."""
        ...

    def marking(self) -> contextlib.AbstractContextManager[None]:
        """The short write that marks a notice seen (never queues long for the lock)."""
        ...

    def writing(
        self,
        cmd: str,
        actor: str | None,
        on_lock_wait: Callable[[bool], None] | None,
        read_back: Callable[[str], Sequence[Statement]],
        *,
        reruns: bool = False,
    ) -> contextlib.AbstractContextManager[UnitOfWork]:
        """One unit of work in one write transaction: commits when the block ends, rolls
        back on an error. Its events are announced to other processes' feeds with the
        commit; a commit whose answer was lost is checked, never reported failed when it
        landed. ``read_back(sid)`` are the reads the door makes right after the commit
        (its session's plan): an engine may send them with the ``COMMIT``. ``reruns``:
        the caller runs the unit again when it raises ``WriteConflict``, so an engine may
        decide from what its last unit left instead of reading, refusing when that is no
        longer true (``store.postgres.unit``)."""
        ...

    def dump(self, queries: Sequence[str]) -> list[list[Row]]:
        """Every row of each query, from one snapshot (``np db copy``)."""
        ...

    def load(self, inserts: Sequence[tuple[str, Sequence[Row]]]) -> None:
        """Run each insert for its rows, all in one transaction (``np db copy``)."""
        ...

    def close(self) -> None: ...


@attrs.frozen(repr=False, eq=False)  # compiled in every process: only what is used
class Options:
    """How a door opens a database (see :class:`store.store.Store`)."""

    clock: Clock | None = None
    timeout: float | None = None
    read_when_full: bool = False
    on_lock_wait: Callable[[bool], None] | None = None
    create: bool = True


class Engine(Protocol):
    """One engine, registered by its package's ``engine`` module."""

    name: str

    def open(self, location: str, options: Options) -> Database: ...

    def open_feed(self, location: str, *, from_start: bool, timeout: float | None) -> Feed: ...

    def migrate(self, location: str) -> tuple[list[str], int]:
        """Bring the database to this np's schema: (migrations applied now, version)."""
        ...

    def diagnose(self, location: str, *, lock_timeout: float | None) -> Report: ...

    def backup(self, location: str, dest: str, *, timeout: float | None) -> BackupResult: ...

    def consistency_problems(self, location: str) -> list[str]:
        """np's invariants that do not hold in the database (empty when sound)."""
        ...


_REGISTERED: dict[str, Engine] = {}


def register(engine: Engine) -> Engine:
    """Called by an engine's ``engine`` module when imported."""
    _REGISTERED[engine.name] = engine
    return engine


def engine_for(location: str) -> Engine:
    """The engine of ``location`` (a file path or a URL), imported on first use.

    Raises:
        StorageError: the engine's driver is not installed (``cause="driver_missing"``).
    """
    name = engine_name(location)
    engine = _REGISTERED.get(name)
    if engine is None:
        importlib.import_module(ENGINES[name] + ".engine")
        engine = _REGISTERED[name]
    return engine


__all__ = [
    "ENGINES",
    "Conn",
    "Cursor",
    "Database",
    "Engine",
    "Known",
    "Options",
    "ReadAhead",
    "Row",
    "engine_for",
    "register",
]
