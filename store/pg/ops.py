"""Operating np on PostgreSQL: copying between engines, backups and health checks.

* :func:`copy_database` — ``np db copy FROM TO``: every session, goal, task and event from
  one np database to another, empty one (SQLite → PostgreSQL, PostgreSQL → SQLite, or
  within an engine), in one transaction, then checked: the same rows, byte for byte.
* :func:`backup` — ``np backup PATH`` on PostgreSQL: a normal np SQLite file, written
  next to its destination, checked with ``PRAGMA integrity_check``, never overwriting.
* :func:`diagnose` — ``np doctor`` on PostgreSQL: reachability and version, schema,
  np's invariants, durability settings, a NOTIFY round trip, and what the role may do.

URLs are shown through :func:`store.pg.url.label` only: no password reaches a message.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

from .. import rows
from ..errors import InvalidArgument, StorageError
from ..outputs import check_copy
from ..store import Store
from ..text import counted
from . import is_pg_url
from .url import label

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


def shown(target: str) -> str:
    """A database as messages show it: a URL's server and database, or the file path."""
    return label(target) if is_pg_url(target) else target


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
    from ..schema import SCHEMA_VERSION

    if is_pg_url(target):
        from . import schema
        from .conn import connect

        conn = connect(target)
        try:
            with conn.mapped_errors():
                done = schema.migrate(conn.raw)
        except StorageError as exc:
            if exc.data.get("cause") != "privilege":
                raise
            # np_app lets a role use np, not change its tables: granting it would not help.
            raise StorageError(
                "Migrating needs the owner of np's tables (or, for a new database, a role "
                "that may create tables in it); this role may not. Run np db migrate as that "
                "role; np_app is enough to use np, not to migrate it.",
                **{**exc.data, "action": "db.migrate"},
            ) from exc
        finally:
            conn.close()
        return MigrateResult(label(target), tuple(done), schema.SCHEMA_VERSION)
    before = _sqlite_applied(target)
    Store(target).close()
    after = _sqlite_applied(target)
    return MigrateResult(target, tuple(n for n in after if n not in before), SCHEMA_VERSION)


def _sqlite_applied(path: str) -> list[str]:
    if not os.path.exists(path):
        return []
    conn = sqlite3.connect(path)
    try:
        return [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = 'np' ORDER BY id"
            )
        ]
    except sqlite3.Error:
        return []
    finally:
        conn.close()


@contextlib.contextmanager
def _reading(store: Store) -> Iterator[None]:
    with store._reading():
        yield


@contextlib.contextmanager
def _writing(store: Store) -> Iterator[None]:
    from .conn import PgConnection

    conn: Any = store.conn
    if isinstance(conn, PgConnection):
        with conn.write():
            yield
    else:
        from ..db import write_transaction

        with write_transaction(store.conn, store.path):
            yield


def _rows(store: Store, table: str, cols: str, order: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.conn.execute(f"SELECT {cols} FROM {table} ORDER BY {order}")]


def _insert(store: Store, table: str, cols: str, data: Sequence[tuple[Any, ...]]) -> None:
    if not data:
        return
    marks = ", ".join("?" * (cols.count(",") + 1))
    sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
    from .conn import PgConnection, translate

    conn: Any = store.conn
    if isinstance(conn, PgConnection):
        with conn.raw.cursor() as cur:
            cur.executemany(translate(sql)[0], data)
    else:
        conn.executemany(sql, data)


def fingerprint(store: Store, rescope: Rescope | None = None) -> tuple[dict[str, int], str]:
    """Rows per table and one SHA-256 over every row of every table, in a fixed order:
    equal fingerprints mean equal content (event payloads compared as the exact text).
    ``rescope`` changes each session row first (what a copy does to the scope column)."""
    digest = hashlib.sha256()
    found: dict[str, int] = {}
    with _reading(store):
        for table, cols, order in TABLES:
            data = _rows(store, table, cols, order if table != "events" else "sid, seq")
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
                "one of them (np a, with NP_SCOPE set to its scope) and copy again.",
                field="from",
                dir=folder,
                scopes=[seen[folder], scope],
            )
        seen[folder] = scope


def copy_database(source: str, dest: str, *, keep_scopes: bool = False) -> CopyResult:
    """Copy every np row from ``source`` to ``dest`` (each a file path or a URL).

    ``dest`` must hold no sessions yet (a new SQLite file is created; a PostgreSQL
    database must have been migrated). The copy runs in one transaction: all of it lands
    or none. Then both sides are fingerprinted and must agree.

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
    if is_pg_url(dest) and not is_pg_url(source):
        from .store import default_scope

        scope = default_scope()
        rescope = _with_scope(scope)
    elif is_pg_url(source) and not is_pg_url(dest) and not keep_scopes:
        rescope, dropped = _without_scope, True
    with Store(source) as src, Store(dest) as dst:
        with _reading(dst):
            row = dst.conn.execute("SELECT count(*) FROM sessions").fetchone()
            present = int(row[0]) if row is not None else 0
        if present:
            raise InvalidArgument(
                f"The destination already holds {counted(present, 'np session')}; copy into an "
                "empty database so nothing is mixed or duplicated.",
                field="to",
                sessions=present,
            )
        with _reading(src):
            data = {table: _rows(src, table, cols, order) for table, cols, order in TABLES}
        if rescope is not None:
            data["sessions"] = [rescope(r) for r in data["sessions"]]
        if dropped:
            _refuse_collisions(data["sessions"])
        with _writing(dst):
            for table, cols, _ in TABLES:
                _insert(dst, table, cols, data[table])
        theirs, ours = fingerprint(src, rescope), fingerprint(dst)
    if theirs != ours:
        raise StorageError(
            "The copy does not match its source; the destination holds the attempt. "
            "Compare both with np doctor.",
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


def backup(source: str, dest: str) -> Any:
    """``np backup`` for a PostgreSQL ``source``: a normal np SQLite file at ``dest`` (or a
    time-stamped file inside it when it is a folder), never overwriting. Returns the same
    ``BackupResult`` as a SQLite backup."""
    from .. import maintenance as m

    target = m.backup_target(dest)
    started = time.perf_counter()
    folder = os.path.dirname(os.path.abspath(target))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".np-backup-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InvalidArgument(
            f"Cannot write in the backup's folder ({exc.strerror}); choose another path.",
            field="path",
        ) from None
    os.close(fd)
    os.unlink(tmp)  # a fresh np file is made by the copy itself
    try:
        result = copy_database(source, tmp, keep_scopes=True)
        conn = sqlite3.connect(tmp)
        try:
            findings = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()
        if findings != ["ok"]:
            raise StorageError(
                f"The copy failed its integrity check ({findings[0]}); nothing was written.",
                field="db",
                cause="corrupt",
            )
        os.chmod(tmp, 0o600)
        from ..maintenance.backup import _link_into_place

        _link_into_place(tmp, target)
    finally:
        for leftover in (tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
    counts = {
        "sessions": result.counts["sessions"],
        "active_sessions": _active(target),
        "tasks": result.counts["tasks"],
        "events": result.counts["events"],
    }
    return m.BackupResult(
        source=shown(source),
        path=target,
        size=os.path.getsize(target),
        seconds=time.perf_counter() - started,
        schema_version=version,
        integrity=findings[0],
        counts=counts,
    )


def _active(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM sessions WHERE state='active'").fetchone()[0])
    finally:
        conn.close()


# -- np doctor ------------------------------------------------------------------------------


def consistency_problems(conn: Any) -> list[str]:
    """np's invariants on PostgreSQL (the twin of the SQLite probe): gapless seq from 1,
    tasks ↔ ``task_added`` events, ``last_updated_at`` ≥ newest event, sessions start with
    ``session_started``. ``conn`` is a ``PgConnection``."""
    problems: list[str] = []

    def sids(sql: str) -> list[str]:
        return [str(r[0]) for r in conn.execute(sql).fetchall()]

    gaps = sids("SELECT sid FROM events GROUP BY sid HAVING min(seq) <> 1 OR count(*) <> max(seq)")
    if gaps:
        problems.append(f"event seq has gaps in session {', '.join(gaps[:5])}")
    orphans = conn.execute(
        "SELECT sid, id FROM tasks EXCEPT "
        "SELECT sid, payload->'task'->>'id' FROM events WHERE type = 'task_added'"
    ).fetchall()
    if orphans:
        problems.append(f"{counted(len(orphans), 'task')} without a task_added event")
    ghosts = conn.execute(
        "SELECT sid, payload->'task'->>'id' FROM events WHERE type = 'task_added' "
        "EXCEPT SELECT sid, id FROM tasks"
    ).fetchall()
    if ghosts:
        problems.append(f"{counted(len(ghosts), 'task_added event')} without their task")
    stale = sids(
        "SELECT s.sid FROM sessions s "
        "JOIN (SELECT sid, max(at) AS newest FROM events GROUP BY sid) e ON e.sid = s.sid "
        "WHERE s.last_updated_at < e.newest"
    )
    if stale:
        problems.append(
            "last_updated_at is older than the newest event in session " + ", ".join(stale[:5])
        )
    unstarted = sids(
        "SELECT s.sid FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM events e "
        "WHERE e.sid = s.sid AND e.seq = 1 AND e.type = 'session_started')"
    )
    if unstarted:
        problems.append("no session_started event at seq 1 in session " + ", ".join(unstarted[:5]))
    return problems


def diagnose(url: str, *, lock_timeout: float | None = None) -> Any:
    """Every check of ``np doctor`` on PostgreSQL, as the SQLite ``Report``; never writes
    np data (the NOTIFY self-test uses a channel of its own)."""
    from .. import maintenance as m
    from . import schema
    from .conn import connect

    where = label(url)
    checks: list[Any] = []

    def check(name: str, status: Any, message: str, **data: Any) -> None:
        checks.append(m.Check(name, status, message, data))

    try:
        conn = connect(url, timeout=lock_timeout)
    except StorageError as exc:
        check("database", m.FAIL, exc.message, server=where)
        return m.Report(where, tuple(checks))

    def one(sql: str) -> Any:
        row = conn.execute(sql).fetchone()
        return row[0] if row is not None else None

    try:
        version = str(one("SHOW server_version"))
        check(
            "database",
            m.OK,
            f"PostgreSQL {version} at {where} answers.",
            server=where,
            server_version=version,
        )
        found = schema.version(conn.raw)
        if found == schema.SCHEMA_VERSION:
            check("schema", m.OK, f"Schema {found}, as this np expects.", schema_version=found)
        else:
            relation = "older" if found < schema.SCHEMA_VERSION else "newer"
            check(
                "schema",
                m.FAIL,
                f"Schema {found} is {relation} than this np's {schema.SCHEMA_VERSION}"
                + ("; it needs migrating." if relation == "older" else "; upgrade np."),
                schema_version=found,
                supported=schema.SCHEMA_VERSION,
            )
            return m.Report(where, tuple(checks))
        problems = consistency_problems(conn)
        check(
            "consistency",
            m.FAIL if problems else m.OK,
            "; ".join(problems) if problems else "Every session's log is gapless and matches.",
            problems=problems,
        )
        counts = {
            "sessions": int(one("SELECT count(*) FROM sessions")),
            "active_sessions": int(one("SELECT count(*) FROM sessions WHERE state = 'active'")),
            "scopes": int(one("SELECT count(DISTINCT scope) FROM sessions")),
            "tasks": int(one("SELECT count(*) FROM tasks")),
            "events": int(one("SELECT count(*) FROM events")),
        }
        check(
            "sessions",
            m.OK,
            f"{counts['active_sessions']:,} active of {counted(counts['sessions'], 'session')} "
            f"in {counted(counts['scopes'], 'scope')}; {counted(counts['tasks'], 'task')}, "
            f"{counted(counts['events'], 'event')}.",
            **counts,
        )
        sync = str(one("SHOW synchronous_commit"))
        fsync = str(one("SHOW fsync"))
        if sync == "off" or fsync == "off":
            check(
                "durability",
                m.WARN,
                "The server acknowledges commits before they are on disk "
                f"(synchronous_commit={sync}, fsync={fsync}): a server crash can lose "
                "acknowledged writes.",
                synchronous_commit=sync,
                fsync=fsync,
            )
        else:
            check(
                "durability",
                m.OK,
                f"Commits are durable (synchronous_commit={sync}).",
                synchronous_commit=sync,
            )
        checks.append(_notify_check(url, conn, m))
        checks.append(_privilege_check(conn, m))
    except StorageError as exc:
        check("database", m.FAIL, exc.message, server=where)
    except Exception as exc:  # a finding, never a crash
        check("database", m.FAIL, f"The server answered with an error ({type(exc).__name__}).")
    finally:
        conn.close()
    return m.Report(where, tuple(checks))


def _notify_check(url: str, conn: Any, m: Any) -> Any:
    """LISTEN on a second connection, NOTIFY from this one: live updates need it (a
    transaction-mode pooler between np and the server swallows notifications)."""
    from .conn import connect

    channel = f"np_doctor_{os.getpid()}"
    listener = connect(url, application="np-doctor")
    try:
        listener.raw.execute(f"LISTEN {channel}")
        started = time.perf_counter()
        conn.execute(f"NOTIFY {channel}, 'ping'")
        for _ in listener.raw.notifies(timeout=2.0, stop_after=1):
            ms = (time.perf_counter() - started) * 1000
            return m.Check(
                "notify",
                m.OK,
                f"Change notifications arrive ({ms:.1f} ms round trip).",
                {"ms": round(ms, 2)},
            )
        return m.Check(
            "notify",
            m.WARN,
            "A notification did not arrive within 2 s: watchers will not update live "
            "(a transaction-mode pooler? LISTEN needs a session connection).",
            {},
        )
    finally:
        listener.close()


def _privilege_check(conn: Any, m: Any) -> Any:
    role, owner, can = conn.execute(
        "SELECT current_user, pg_get_userbyid(c.relowner) = current_user, "
        "has_table_privilege('events', 'UPDATE') OR has_table_privilege('events', 'DELETE') "
        "OR has_table_privilege('events', 'TRUNCATE') "
        "FROM pg_class c WHERE c.oid = 'events'::regclass"
    ).fetchone()
    if owner or can:
        return m.Check(
            "privileges",
            m.WARN,
            f"Role {role} could rewrite the event log (it "
            + ("owns the tables" if owner else "may update or delete events")
            + "); triggers still refuse, but connect agents as a member of np_app.",
            {"role": role, "owner": bool(owner)},
        )
    return m.Check(
        "privileges",
        m.OK,
        f"Role {role} may append to the event log but not change or delete it.",
        {"role": role},
    )
