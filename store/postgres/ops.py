"""Operating np on PostgreSQL: backups and health checks.

* :func:`backup` — ``np backup PATH`` on PostgreSQL: a normal np SQLite file, written
  next to its destination, checked with ``PRAGMA integrity_check``, never overwriting.
* :func:`diagnose` — ``np doctor`` on PostgreSQL: reachability and version, schema,
  np's invariants, durability settings, a NOTIFY round trip, and what the role may do.

URLs are shown through :func:`store.url.label` only: no password reaches a message.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from typing import TYPE_CHECKING

from ..errors import InvalidArgument, StorageError
from ..ops.copy import copy_database
from ..ops.results import (
    FAIL,
    OK,
    WARN,
    BackupResult,
    Check,
    CheckStatus,
    Report,
    backup_target,
    link_into_place,
)
from ..text import counted
from ..url import label, shown

if TYPE_CHECKING:
    from .conn import PgConnection


def backup(source: str, dest: str) -> BackupResult:
    """``np backup`` for a PostgreSQL ``source``: a normal np SQLite file at ``dest`` (or a
    time-stamped file inside it when it is a folder), never overwriting. Returns the same
    ``BackupResult`` as a SQLite backup."""
    target = backup_target(dest)
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
        link_into_place(tmp, target)
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
    return BackupResult(
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


def consistency_problems(conn: PgConnection) -> list[str]:
    """np's invariants on PostgreSQL (the twin of the SQLite probe): gapless seq from 1,
    tasks ↔ ``task_added`` events, ``last_updated_at`` ≥ newest event, sessions start with
    ``session_started``."""
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


def diagnose(url: str, *, lock_timeout: float | None = None) -> Report:
    """Every check of ``np doctor`` on PostgreSQL, as the SQLite ``Report``; never writes
    np data (the NOTIFY self-test uses a channel of its own)."""
    from . import schema
    from .conn import connect

    where = label(url)
    checks: list[Check] = []

    def check(name: str, status: CheckStatus, message: str, **data: object) -> None:
        checks.append(Check(name, status, message, data))

    try:
        conn = connect(url, timeout=lock_timeout)
    except StorageError as exc:
        check("database", FAIL, exc.message, server=where)
        return Report(where, tuple(checks))

    def one(sql: str) -> str:
        """A setting (``SHOW``)."""
        row = conn.execute(sql).fetchone()
        return str(row[0]) if row is not None else ""

    def count(sql: str) -> int:
        return conn.execute(sql).value()

    try:
        version = str(one("SHOW server_version"))
        check(
            "database",
            OK,
            f"PostgreSQL {version} at {where} answers.",
            server=where,
            server_version=version,
        )
        found = schema.version(conn.raw)
        if found == schema.SCHEMA_VERSION:
            check("schema", OK, f"Schema {found}, as this np expects.", schema_version=found)
        else:
            relation = "older" if found < schema.SCHEMA_VERSION else "newer"
            check(
                "schema",
                FAIL,
                f"Schema {found} is {relation} than this np's {schema.SCHEMA_VERSION}"
                + ("; it needs migrating." if relation == "older" else "; upgrade np."),
                schema_version=found,
                supported=schema.SCHEMA_VERSION,
            )
            return Report(where, tuple(checks))
        problems = consistency_problems(conn)
        check(
            "consistency",
            FAIL if problems else OK,
            "; ".join(problems) if problems else "Every session's log is gapless and matches.",
            problems=problems,
        )
        counts = {
            "sessions": count("SELECT count(*) FROM sessions"),
            "active_sessions": count("SELECT count(*) FROM sessions WHERE state = 'active'"),
            "scopes": count("SELECT count(DISTINCT scope) FROM sessions"),
            "tasks": count("SELECT count(*) FROM tasks"),
            "events": count("SELECT count(*) FROM events"),
        }
        check(
            "sessions",
            OK,
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
                WARN,
                "The server acknowledges commits before they are on disk "
                f"(synchronous_commit={sync}, fsync={fsync}): a server crash can lose "
                "acknowledged writes.",
                synchronous_commit=sync,
                fsync=fsync,
            )
        else:
            check(
                "durability",
                OK,
                f"Commits are durable (synchronous_commit={sync}).",
                synchronous_commit=sync,
            )
        checks.append(_notify_check(url, conn))
        checks.append(_settings_check(conn, lock_timeout))
        checks.append(_privilege_check(conn))
    except StorageError as exc:
        check("database", FAIL, exc.message, server=where)
    except Exception as exc:  # a finding, never a crash
        check("database", FAIL, f"The server answered with an error ({type(exc).__name__}).")
    finally:
        conn.close()
    return Report(where, tuple(checks))


def _notify_check(url: str, conn: PgConnection) -> Check:
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
            return Check(
                "notify",
                OK,
                f"Change notifications arrive ({ms:.1f} ms round trip).",
                {"ms": round(ms, 2)},
            )
        return Check(
            "notify",
            WARN,
            "A notification did not arrive within 2 s: watchers will not update live "
            "(a transaction-mode pooler? LISTEN needs a session connection).",
            {},
        )
    finally:
        listener.close()


def _settings_check(conn: PgConnection, lock_timeout: float | None) -> Check:
    """np's connection settings (startup options) reached the server: a pooler that
    ignores startup options (PgBouncer's ``ignore_startup_parameters = options``) drops
    them, and then they must be the login role's own."""
    from .conn import session_settings

    wanted = session_settings(lock_timeout)
    rows = conn.execute(
        "SELECT name, setting FROM pg_settings WHERE name IN (?, ?, ?)", tuple(wanted)
    ).fetchall()
    found = {str(name): str(setting) for name, setting in rows}
    missing = {name: value for name, value in wanted.items() if found.get(name) != value}
    if not missing:
        return Check("settings", OK, "np's connection settings reach the server.", wanted)
    who = conn.execute("SELECT quote_ident(current_user)").fetchone()
    role = str(who[0]) if who is not None else "the login role"
    shown = {"lock_timeout": "ms", "idle_in_transaction_session_timeout": "ms"}
    fix = "; ".join(
        f"ALTER ROLE {role} SET {name} = '{value}{shown.get(name, '')}'"
        for name, value in missing.items()
    )
    have = ", ".join(f"{name}={found.get(name, '?')}" for name in missing)
    return Check(
        "settings",
        WARN,
        f"np's connection settings did not reach the server ({have}): a pooler that "
        f"ignores startup options dropped them. Give them to the login role: {fix}.",
        {"expected": wanted, "found": found, "role": role},
    )


def _privilege_check(conn: PgConnection) -> Check:
    row = conn.execute(
        "SELECT current_user, pg_get_userbyid(c.relowner) = current_user, "
        "has_table_privilege('events', 'UPDATE') OR has_table_privilege('events', 'DELETE') "
        "OR has_table_privilege('events', 'TRUNCATE') "
        "FROM pg_class c WHERE c.oid = 'events'::regclass"
    ).fetchone()
    assert row is not None  # one row: the events table exists (the schema was checked)
    role, owner, can = row
    if owner or can:
        return Check(
            "privileges",
            WARN,
            f"Role {role} could rewrite the event log (it "
            + ("owns the tables" if owner else "may update or delete events")
            + "); triggers still refuse, but connect agents as a member of np_app.",
            {"role": role, "owner": bool(owner)},
        )
    return Check(
        "privileges",
        OK,
        f"Role {role} may append to the event log but not change or delete it.",
        {"role": role},
    )
