"""Moving np's data between databases, on either engine: ``np db copy`` and ``np db migrate``.

* :func:`copy_database` — every session, goal, task and event from one np database to
  another, empty one (SQLite → PostgreSQL, PostgreSQL → SQLite, or within an engine), in
  one transaction, then checked: the same rows, byte for byte.
* :func:`migrate_database` — bring a database to this np's schema.

Engine-neutral: it works through :class:`store.store.Store` and the engine registry, so
two SQLite files never need psycopg. Databases are shown through
:func:`store.url.label` only: no password reaches a message.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from .. import rows
from ..errors import InvalidArgument, StorageError
from ..outputs import check_copy
from ..settings import is_shared, shared_scope
from ..store import Store
from ..text import counted
from ..url import shown

# Every table np owns, its columns (the same on both engines) and the order rows are copied
# in: events by id, which on either engine follows seq within a session (the gapless
# trigger checks every insert).
TABLES: tuple[tuple[str, str, str], ...] = (
    ("sessions", rows.SESSION_COLS, "sid"),
    ("goals", "sid, " + rows.GOAL_COLS, "sid"),
    ("tasks", "sid, " + rows.TASK_COLS, "sid, created_seq"),
    ("events", rows.EVENT_COLS, "id"),
    ("seen", "sid, actor, seq", "sid, actor"),
    ("task_after", "sid, task_id, after_id", "sid, task_id, after_id"),
    ("requests", "actor, key, command, args, sid, result, at", "actor, key"),
    ("joins", "sid, scope, dir, at", "scope, dir, sid"),
    ("receipts", "sid, actor, seq, at", "sid, actor, seq"),
)


@attrs.frozen
class CopyResult:
    """What one copy moved: rows per table, the fingerprint both sides share, seconds."""

    source: str
    dest: str
    counts: dict[str, int]
    fingerprint: str
    seconds: float
    scope: str | None = None  # the scope given to SQLite's sessions (into PostgreSQL)
    scopes_dropped: bool = False  # PostgreSQL's scopes were dropped (into SQLite)

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "seconds": round(self.seconds, 4)}


@attrs.frozen
class MigrateResult:
    """What ``np db migrate`` did: the database (never with a password), the migrations
    it applied now (in order; empty when it was current) and the schema it is at."""

    database: str
    applied: tuple[str, ...]
    schema_version: int

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "applied": list(self.applied)}


def migrate_database(target: str) -> MigrateResult:
    """Bring ``target`` (a file path or a PostgreSQL URL) to this np's schema.

    SQLite files migrate whenever np opens them; this does it on purpose (creating the
    file if needed). A PostgreSQL database migrates only here: every pending migration
    in one transaction under an advisory lock, plus the ``np_app`` grants.

    Raises:
        StorageError: the database is newer than this np, cannot be reached, or the role
            may not create tables (``data``: ``field="db"``, ``cause``).
    """
    from ..engine import engine_for

    applied, version = engine_for(target).migrate(target)
    return MigrateResult(shown(target), tuple(applied), version)


def fingerprint(store: Store, rescope: Rescope | None = None) -> tuple[dict[str, int], str]:
    """Rows per table and one SHA-256 over every row of every table, in a fixed order:
    equal fingerprints mean equal content (event payloads compared as the exact text).
    ``rescope`` changes each session row first (what a copy does to the scope column)."""
    digest = hashlib.sha256()
    found: dict[str, int] = {}
    dumped = store.dump(
        [
            f"SELECT {cols} FROM {table} ORDER BY {order if table != 'events' else 'sid, seq'}"
            for table, cols, order in TABLES
        ]
    )
    for (table, _, _), dumped_rows in zip(TABLES, dumped, strict=True):
        data = dumped_rows
        if table == "sessions" and rescope is not None:
            data = [rescope(r) for r in data]
        found[table] = len(data)
        for row in data:
            digest.update(repr(row).encode())
    return found, digest.hexdigest()


_SCOPE = rows.SESSION_COLS.split(", ").index("scope")
_DIR = rows.SESSION_COLS.split(", ").index("dir")
_STATE = rows.SESSION_COLS.split(", ").index("state")
Rescope = Callable[[tuple[Any, ...]], tuple[Any, ...]]


def _with_scope(scope: str) -> Rescope:
    """Sessions without a scope (SQLite's) get ``scope``; scoped ones keep theirs."""

    def rescope(row: tuple[Any, ...]) -> tuple[Any, ...]:
        if row[_SCOPE]:
            return row
        return (*row[:_SCOPE], scope, *row[_SCOPE + 1 :])

    return rescope


def _without_scope(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*row[:_SCOPE], "", *row[_SCOPE + 1 :])


def _refuse_collisions(sessions: Sequence[tuple[Any, ...]]) -> None:
    """SQLite has one active session per folder: two scopes' active sessions for one
    folder cannot both arrive there."""
    seen: dict[str, str] = {}
    for row in sessions:
        if row[_STATE] != "active":
            continue
        folder, scope = str(row[_DIR]), str(row[_SCOPE])
        if folder in seen:
            raise InvalidArgument(
                f"Two active sessions for {folder} (scopes {seen[folder]!r} and {scope!r}) "
                "would collide in SQLite, which has one active session per folder; archive "
                "one of them (in its scope) and copy again.",
                field="from",
                dir=folder,
                scopes=[seen[folder], scope],
            )
        seen[folder] = scope


def _create_tables_if_empty(dest: str) -> None:
    """A shared database with no np tables at all (a new, empty database) named as the
    destination of a copy gets them (:func:`migrate_database`): "copy into an empty
    database" includes one just made with ``createdb``. One with an older np's tables is
    still refused: only ``np db migrate`` upgrades a shared database."""
    try:
        with Store(dest) as probe:
            probe.dump(["SELECT count(*) FROM sessions"])  # opening checks the schema
            return
    except StorageError as exc:
        if exc.data.get("cause") != "older_schema" or exc.data.get("schema_version") != 0:
            raise
    migrate_database(dest)


def copy_database(source: str, dest: str, *, keep_scopes: bool = False) -> CopyResult:
    """Copy every np row from ``source`` to ``dest`` (each a file path or a URL).

    ``dest`` must hold no sessions yet (a new SQLite file is created; a PostgreSQL
    database is given np's tables when it has none). The copy runs in one transaction: all
    of it lands or none. Then both sides are fingerprinted and must agree.

    Scopes: into PostgreSQL, sessions without one (SQLite's) get this machine's scope
    (``$NP_SCOPE``, else the host name), so ``np p`` there finds them; into SQLite the
    scopes are dropped (SQLite has none), unless ``keep_scopes`` (``np backup``: an exact
    copy). The fingerprints compare the rows with that one column changed.

    Raises:
        InvalidArgument: ``dest`` is ``source``, or already holds np data (``field="to"``),
            or two scopes' active sessions for one folder would collide in SQLite
            (``field="from"``).
        StorageError: either database cannot be opened, or the check found a difference.
    """
    if source == dest:
        raise InvalidArgument("Copy into another database, not onto itself.", field="to")
    check_copy(source, dest)
    started = time.perf_counter()
    rescope: Rescope | None = None
    scope: str | None = None
    dropped = False
    if is_shared(dest) and not is_shared(source):
        scope = shared_scope()
        rescope = _with_scope(scope)
    elif is_shared(source) and not is_shared(dest) and not keep_scopes:
        rescope, dropped = _without_scope, True
    if is_shared(dest):
        _create_tables_if_empty(dest)
    with Store(source) as src, Store(dest) as dst:
        present = int(dst.dump(["SELECT count(*) FROM sessions"])[0][0][0])
        if present:
            raise InvalidArgument(
                f"The destination already holds {counted(present, 'np session')}; copy into an "
                "empty database so nothing is mixed or duplicated.",
                field="to",
                sessions=present,
            )
        dumped = src.dump([f"SELECT {cols} FROM {t} ORDER BY {order}" for t, cols, order in TABLES])
        data = {table: list(d) for (table, _, _), d in zip(TABLES, dumped, strict=True)}
        if rescope is not None:
            data["sessions"] = [rescope(r) for r in data["sessions"]]
        if dropped:
            _refuse_collisions(data["sessions"])
        dst.load(
            [
                (
                    f"INSERT INTO {t} ({cols}) VALUES ({', '.join('?' * (cols.count(',') + 1))})",
                    data[t],
                )
                for t, cols, _ in TABLES
            ]
        )
        theirs, ours = fingerprint(src, rescope), fingerprint(dst)
    if theirs != ours:
        raise StorageError(
            "The copy does not match its source; the destination holds the attempt.",
            field="db",
            cause="copy_mismatch",
        )
    return CopyResult(
        shown(source),
        shown(dest),
        ours[0],
        ours[1],
        time.perf_counter() - started,
        scope,
        dropped,
    )


__all__ = ["CopyResult", "MigrateResult", "copy_database", "fingerprint", "migrate_database"]
