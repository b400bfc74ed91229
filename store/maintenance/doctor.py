"""Health checks and online backups of an np database (``np doctor``, ``np backup``).

Nothing here changes the database it examines: the checks open their own connections,
never run migrations, and the write-lock probe is ``BEGIN IMMEDIATE`` followed at once by
``ROLLBACK``. A backup goes through SQLite's online backup API in one step, which reads a
single consistent snapshot while other processes keep committing (WAL readers never block
writers), writes it to a private temporary file next to the destination, checks the copy
with ``PRAGMA integrity_check`` and only then gives it its name — never over an existing
file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import attrs

from ..db import busy_timeout
from ..errors import InvalidArgument, StorageBusy, StorageError
from ..schema import SCHEMA_VERSION

OK, WARN, FAIL = "ok", "warn", "fail"
WAL_WARN_BYTES = 64 * 1024 * 1024  # a WAL this big means checkpoints are being starved
PROBLEM_SAMPLE = 5  # how many offending rows a finding names


@attrs.frozen
class Check:
    """One finding of ``np doctor``: a name, ``ok``/``warn``/``fail`` and one sentence."""

    name: str
    status: str
    message: str
    data: dict[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "message": self.message,
            "data": self.data,
        }


@attrs.frozen
class Report:
    path: str
    checks: tuple[Check, ...]

    @property
    def healthy(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == WARN]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "healthy": self.healthy,
            "problems": [c.name for c in self.problems],
            "warnings": [c.name for c in self.warnings],
            "checks": [c.to_dict() for c in self.checks],
        }


@attrs.frozen
class BackupResult:
    source: str
    path: str
    size: int
    seconds: float
    schema_version: int
    integrity: str
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "path": self.path,
            "size": self.size,
            "seconds": round(self.seconds, 4),
            "schema_version": self.schema_version,
            "integrity": self.integrity,
            "counts": self.counts,
        }


# -- building blocks ------------------------------------------------------------------------


def open_existing(path: str, *, timeout: float | None = None) -> sqlite3.Connection:
    """A plain connection to an existing file: no file creation, no migration, no pragmas
    that write. Raises :class:`StorageError` when there is no file."""
    if not os.path.isfile(path):
        raise StorageError("There is no np database at that path; check --db or NP_DB.", path=path)
    try:
        return sqlite3.connect(
            path, isolation_level=None, timeout=busy_timeout() if timeout is None else timeout
        )
    except sqlite3.Error as exc:
        raise StorageError(f"The database cannot be opened ({exc}).", path=path) from None


@contextlib.contextmanager
def _closing(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    try:
        yield conn
    finally:
        conn.close()


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def integrity_check(conn: sqlite3.Connection, *, limit: int = 20) -> list[str]:
    """``PRAGMA integrity_check``: ``["ok"]`` for a sound file, else SQLite's findings."""
    return [str(row[0]) for row in conn.execute(f"PRAGMA integrity_check({int(limit)})")]


def journal_mode(conn: sqlite3.Connection) -> str:
    return str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()


def wal_size(path: str) -> int:
    """Bytes in ``PATH-wal`` (0 when there is none: the last connection checkpointed it)."""
    try:
        return os.path.getsize(path + "-wal")
    except OSError:
        return 0


def file_modes(path: str) -> tuple[int, int | None]:
    """``(folder mode, file mode)`` as permission bits; the file's is None when absent."""
    folder = os.path.dirname(os.path.abspath(path))
    folder_mode = stat.S_IMODE(os.stat(folder).st_mode)
    try:
        file_mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        file_mode = None
    return folder_mode, file_mode


def probe_write_lock(path: str, *, timeout: float | None = None) -> float:
    """Seconds it took to get the write lock (``BEGIN IMMEDIATE`` then ``ROLLBACK``).

    Raises :class:`StorageBusy` when another process holds it past ``timeout``, and
    :class:`StorageError` when the file cannot be locked for writing at all."""
    if timeout is None:
        timeout = busy_timeout()
    conn = open_existing(path, timeout=timeout)
    with _closing(conn):
        started = time.perf_counter()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if "locked" in text or "busy" in text:
                raise StorageBusy(
                    f"Another process has held the write lock for more than {timeout:g} s.",
                    path=path,
                ) from None
            raise StorageError(f"The write lock cannot be taken ({exc}).", path=path) from None
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"The write lock cannot be taken ({exc}).", path=path) from None
        waited = time.perf_counter() - started
        conn.execute("ROLLBACK")
    return waited


def _sample(rows: list[Any]) -> str:
    shown = ", ".join(str(r) for r in rows[:PROBLEM_SAMPLE])
    return shown + (f" and {len(rows) - PROBLEM_SAMPLE} more" if len(rows) > PROBLEM_SAMPLE else "")


def consistency_problems(conn: sqlite3.Connection) -> list[str]:
    """np's own invariants, checked over the whole file in set-based queries.

    Gapless per-session ``seq`` starting at 1; every task has its ``task_added`` event and
    every ``task_added`` event its task; each session's ``last_updated_at`` is at least its
    newest event's time; each session starts with ``session_started``; foreign keys hold.
    An empty list means no half-written command is visible."""
    problems: list[str] = []
    gaps = conn.execute(
        "SELECT sid FROM events GROUP BY sid HAVING min(seq) != 1 OR count(*) != max(seq)"
    ).fetchall()
    if gaps:
        problems.append(f"event seq has gaps in session {_sample([r[0] for r in gaps])}")
    orphans = conn.execute(
        "SELECT sid, id FROM tasks EXCEPT "
        "SELECT sid, json_extract(payload, '$.task.id') FROM events WHERE type = 'task_added'"
    ).fetchall()
    if orphans:
        problems.append(
            f"{len(orphans)} task(s) without a task_added event: "
            + _sample([f"{r[0]}/{r[1]}" for r in orphans])
        )
    ghosts = conn.execute(
        "SELECT sid, json_extract(payload, '$.task.id') FROM events WHERE type = 'task_added' "
        "EXCEPT SELECT sid, id FROM tasks"
    ).fetchall()
    if ghosts:
        problems.append(
            f"{len(ghosts)} task_added event(s) without their task: "
            + _sample([f"{r[0]}/{r[1]}" for r in ghosts])
        )
    stale = conn.execute(
        "SELECT s.sid FROM sessions s "
        "JOIN (SELECT sid, max(at) AS newest FROM events GROUP BY sid) e ON e.sid = s.sid "
        "WHERE s.last_updated_at < e.newest"
    ).fetchall()
    if stale:
        problems.append(
            "last_updated_at is older than the newest event in session "
            + _sample([r[0] for r in stale])
        )
    unstarted = conn.execute(
        "SELECT s.sid FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM events e "
        "WHERE e.sid = s.sid AND e.seq = 1 AND e.type = 'session_started')"
    ).fetchall()
    if unstarted:
        problems.append(
            "no session_started event at seq 1 in session " + _sample([r[0] for r in unstarted])
        )
    broken_fk = conn.execute("PRAGMA foreign_key_check").fetchall()
    if broken_fk:
        problems.append(f"{len(broken_fk)} row(s) break a foreign key")
    return problems


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    def one(sql: str) -> int:
        return int(conn.execute(sql).fetchone()[0])

    return {
        "sessions": one("SELECT count(*) FROM sessions"),
        "active_sessions": one("SELECT count(*) FROM sessions WHERE state = 'active'"),
        "tasks": one("SELECT count(*) FROM tasks"),
        "events": one("SELECT count(*) FROM events"),
    }


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


# -- np doctor ------------------------------------------------------------------------------


def _missing_database(path: str) -> Report:
    """No file yet: healthy if np could create it (nearest existing folder writable)."""
    folder = os.path.dirname(os.path.abspath(path))
    existing = folder
    while not os.path.isdir(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if os.access(existing, os.W_OK | os.X_OK):
        check = Check(
            "database",
            OK,
            "No database yet; np creates it (folder 0700, file 0600) on first use.",
            {"exists": False},
        )
    else:
        check = Check(
            "database",
            FAIL,
            f"No database yet, and np cannot create one because {existing} is not writable; "
            "fix its permissions or point --db or NP_DB elsewhere.",
            {"exists": False, "blocked_by": existing},
        )
    return Report(path, (check,))


def _permission_checks(path: str) -> Check:
    folder_mode, file_mode = file_modes(path)
    folder = os.path.dirname(os.path.abspath(path))
    data: dict[str, Any] = {
        "folder_mode": f"{folder_mode:04o}",
        "file_mode": f"{file_mode:04o}" if file_mode is not None else None,
    }
    if not os.access(path, os.R_OK | os.W_OK):
        return Check(
            "permissions",
            FAIL,
            "The database file is not readable and writable by you; fix its permissions "
            "(chmod 600) or its owner.",
            data,
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        return Check(
            "permissions",
            FAIL,
            "The database folder is not writable, so SQLite cannot create its -wal and -shm "
            "files; fix the folder's permissions (chmod 700).",
            data,
        )
    loose = []
    if file_mode is not None and file_mode & 0o077:
        loose.append(f"the file is {file_mode:04o}")
    if folder_mode & 0o022:  # others could replace or delete the file
        loose.append(f"the folder is {folder_mode:04o} (writable by others)")
    if loose:
        return Check(
            "permissions",
            WARN,
            "Other users can reach your plans: "
            + " and ".join(loose)
            + "; np creates the file 0600 in a 0700 folder (chmod to tighten).",
            data,
        )
    return Check(
        "permissions",
        OK,
        f"folder {data['folder_mode']}, file {data['file_mode']}; private to you.",
        data,
    )


def diagnose(path: str, *, lock_timeout: float | None = None) -> Report:
    """Every check of ``np doctor``, in order; reads only, never writes."""
    if not os.path.exists(path):
        return _missing_database(path)
    if not os.path.isfile(path):
        return Report(
            path,
            (Check("database", FAIL, "The database path is not a regular file.", {}),),
        )
    checks: list[Check] = []
    size = os.path.getsize(path)
    try:
        conn = open_existing(path)
    except StorageError as exc:
        return Report(path, (Check("database", FAIL, exc.message, {"size": size}),))
    with _closing(conn):
        try:
            conn.execute("PRAGMA query_only = ON")
            version = schema_version(conn)
            mode = journal_mode(conn)
        except sqlite3.DatabaseError as exc:
            checks.append(Check("database", FAIL, _unreadable(exc), {"size": size}))
            checks.append(_permission_checks(path))
            return Report(path, tuple(checks))
        checks.append(
            Check("database", OK, f"SQLite file of {_size(size)}.", {"size": size, "exists": True})
        )
        checks.append(_schema_check(version))

        try:
            findings = integrity_check(conn)
        except sqlite3.DatabaseError as exc:
            findings = [str(exc)]
        if findings == ["ok"]:
            checks.append(
                Check("integrity", OK, "PRAGMA integrity_check: ok.", {"result": findings})
            )
        else:
            checks.append(
                Check(
                    "integrity",
                    FAIL,
                    f"PRAGMA integrity_check found damage ({findings[0]}); back up what "
                    "you can and restore the last good backup.",
                    {"result": findings},
                )
            )

        if version == SCHEMA_VERSION:
            checks.extend(_content_checks(conn))

        wal = wal_size(path)
        if mode != "wal" and version > 0:
            checks.append(
                Check(
                    "wal",
                    WARN,
                    f"The journal mode is {mode}, not wal; readers and writers will block "
                    "each other.",
                    {"journal_mode": mode, "wal_bytes": wal},
                )
            )
        elif wal > WAL_WARN_BYTES:
            checks.append(
                Check(
                    "wal",
                    WARN,
                    f"The write-ahead log holds {_size(wal)}; a long-lived reader may be "
                    "blocking checkpoints.",
                    {"journal_mode": mode, "wal_bytes": wal},
                )
            )
        else:
            checks.append(
                Check(
                    "wal",
                    OK,
                    f"journal mode {mode}, {_size(wal)} not yet checkpointed.",
                    {"journal_mode": mode, "wal_bytes": wal},
                )
            )

    checks.append(_permission_checks(path))
    checks.append(_lock_check(path, busy_timeout() if lock_timeout is None else lock_timeout))
    return Report(path, tuple(checks))


def _unreadable(exc: sqlite3.DatabaseError) -> str:
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return (
            f"The database cannot be opened for reading and writing ({exc}); the file or "
            "its folder is read-only, fix the permissions."
        )
    return (
        f"This is not a readable SQLite database ({exc}); restore a backup or point --db "
        "or NP_DB at another file."
    )


def _schema_check(version: int) -> Check:
    data = {"schema_version": version, "supported": SCHEMA_VERSION}
    if version > SCHEMA_VERSION:
        return Check(
            "schema",
            FAIL,
            f"Schema {version} was written by a newer np (this np knows {SCHEMA_VERSION}); "
            "upgrade np.",
            data,
        )
    if version < SCHEMA_VERSION:
        return Check(
            "schema",
            OK,
            f"Schema {version}; np migrates it to {SCHEMA_VERSION} on the next write.",
            data,
        )
    return Check("schema", OK, f"Schema {version}, current.", data)


def _content_checks(conn: sqlite3.Connection) -> list[Check]:
    out: list[Check] = []
    try:
        conn.execute("BEGIN")  # one snapshot for every query: writers may be committing
        try:
            found = counts(conn)
            problems = consistency_problems(conn)
            active = conn.execute(
                "SELECT sid, dir, last_updated_at FROM sessions WHERE state = 'active' "
                "ORDER BY last_updated_at DESC"
            ).fetchall()
        finally:
            conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        return [Check("consistency", FAIL, f"The np tables cannot be read ({exc}).", {})]
    summary = (
        f"{found['sessions']} session(s), {found['tasks']} task(s), {found['events']} event(s)"
    )
    if problems:
        out.append(
            Check(
                "consistency",
                FAIL,
                f"{summary}, but {'; '.join(problems)}.",
                {**found, "problems": problems},
            )
        )
    else:
        out.append(
            Check(
                "consistency",
                OK,
                f"{summary}; seq gapless and every task logged.",
                {**found, "problems": []},
            )
        )
    sessions = [{"sid": r[0], "dir": r[1], "last_updated_at": r[2]} for r in active]
    gone = [s["dir"] for s in sessions if not os.path.isdir(s["dir"])]
    data: dict[str, Any] = {"active": sessions, "missing_dirs": gone}
    if gone:
        out.append(
            Check(
                "sessions",
                WARN,
                f"{len(sessions)} active; the directory of {len(gone)} no longer exists "
                f"({_sample(gone)}); archive with `np a --session SID`.",
                data,
            )
        )
    else:
        out.append(Check("sessions", OK, f"{len(sessions)} active.", data))
    return out


def _lock_check(path: str, timeout: float) -> Check:
    try:
        waited = probe_write_lock(path, timeout=timeout)
    except StorageBusy:
        return Check(
            "write_lock",
            FAIL,
            f"Another process has held the write lock for more than {timeout:g} s, so "
            "writes will fail with storage_busy; find it (e.g. `fuser` on the database) "
            "and stop it.",
            {"timeout": timeout},
        )
    except StorageError as exc:
        return Check(
            "write_lock",
            FAIL,
            f"Writes are impossible: {exc.message}",
            {"timeout": timeout},
        )
    return Check(
        "write_lock",
        OK,
        f"reachable in {waited * 1000:.0f} ms (busy timeout {timeout:g} s).",
        {"waited_ms": round(waited * 1000, 2), "timeout": timeout},
    )


# -- np backup ------------------------------------------------------------------------------


def backup_target(dest: str, now: datetime | None = None) -> str:
    """Where a backup to ``dest`` goes: ``dest`` itself, or inside it when it is a folder
    (``np-backup-YYYYmmddTHHMMSSZ.db``). An existing file is never a target."""
    if os.path.isdir(dest):
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
        return os.path.join(dest, f"np-backup-{stamp}.db")
    if os.path.lexists(dest):
        raise InvalidArgument(
            "The backup file already exists and np never overwrites it; remove it first, "
            "choose a new name, or give a folder to get a time-stamped file.",
            field="path",
        )
    folder = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(folder):
        raise InvalidArgument(
            "The backup's folder does not exist; create it first or choose another path.",
            field="path",
        )
    return dest


def backup(source: str, dest: str, *, timeout: float | None = None) -> BackupResult:
    """Copy ``source`` to ``dest`` through SQLite's online backup API.

    The copy is taken in one step from one read snapshot, so it is consistent even while
    other processes commit; it is written to a 0600 temporary file in the destination's
    folder, verified with ``PRAGMA integrity_check``, and then linked to its name, which
    fails rather than replace a file that appeared meanwhile."""
    target = backup_target(dest)
    if os.path.abspath(target) == os.path.abspath(source):
        raise InvalidArgument("The backup cannot be the database itself.", field="path")
    started = time.perf_counter()
    src = open_existing(source, timeout=timeout)
    folder = os.path.dirname(os.path.abspath(target))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".np-backup-", suffix=".tmp", dir=folder)
    except OSError as exc:
        src.close()
        raise InvalidArgument(
            f"Cannot write in the backup's folder ({exc.strerror}); choose another path.",
            field="path",
        ) from None
    os.close(fd)
    try:
        with _closing(src):
            try:
                version = schema_version(src)
                dst = sqlite3.connect(tmp, isolation_level=None)
                with _closing(dst):
                    src.backup(dst)
                    findings = integrity_check(dst)
                    found = counts(dst) if version == SCHEMA_VERSION else {}
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if "locked" in text or "busy" in text:
                    raise StorageBusy(
                        "The database stayed busy past the timeout; try the backup again.",
                        path=source,
                    ) from None
                raise StorageError(
                    f"The backup failed ({exc}); nothing was written.", path=source
                ) from None
            except sqlite3.DatabaseError as exc:
                raise StorageError(
                    f"The database cannot be backed up ({exc}); it may be damaged or not "
                    "an np database.",
                    path=source,
                ) from None
        if findings != ["ok"]:
            raise StorageError(
                f"The copy failed its integrity check ({findings[0]}); nothing was written.",
                path=source,
            )
        _link_into_place(tmp, target)
    finally:
        for leftover in (tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
    return BackupResult(
        source=source,
        path=target,
        size=os.path.getsize(target),
        seconds=time.perf_counter() - started,
        schema_version=version,
        integrity=findings[0],
        counts=found,
    )


def _link_into_place(tmp: str, target: str) -> None:
    try:
        os.link(tmp, target)  # atomic, and refuses to replace an existing file
    except FileExistsError:
        raise InvalidArgument(
            "The backup file appeared while np was writing it; nothing was overwritten.",
            field="path",
        ) from None
    except OSError:  # a filesystem without hard links
        if os.path.lexists(target):
            raise InvalidArgument(
                "The backup file already exists and np never overwrites it.", field="path"
            ) from None
        os.rename(tmp, target)


__all__ = [
    "FAIL",
    "OK",
    "WARN",
    "BackupResult",
    "Check",
    "Report",
    "backup",
    "backup_target",
    "consistency_problems",
    "counts",
    "diagnose",
    "file_modes",
    "integrity_check",
    "journal_mode",
    "open_existing",
    "probe_write_lock",
    "schema_version",
    "wal_size",
]
