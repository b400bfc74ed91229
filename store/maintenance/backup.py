"""Online backups of an np database (``np backup``).

A backup goes through SQLite's online backup API in one step, which reads a single
consistent snapshot while other processes keep committing (WAL readers never block
writers), writes it to a private temporary file next to the destination, checks the copy
with ``PRAGMA integrity_check`` and only then gives it its name — never over an existing
file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

import attrs

from ..db import classify_error, sqlite_uri
from ..errors import InvalidArgument, StorageBusy, StorageError
from ..outputs import check_output
from ..pg import is_pg_url
from ..schema import SCHEMA_VERSION, read_version
from ..text import printable
from .probes import counts, integrity_check, open_existing


@attrs.frozen
class BackupResult:
    """What one backup wrote.

    Attributes:
        source: the database that was copied.
        path: the new file.
        size: its size in bytes.
        seconds: wall time of the whole backup.
        schema_version: the copy's ``user_version``.
        integrity: ``"ok"`` (a copy that fails the check is never kept).
        counts: rows per table (:func:`~store.maintenance.probes.counts`); empty for an
            older schema.
    """

    source: str
    path: str
    size: int
    seconds: float
    schema_version: int
    integrity: str
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON: paths as np shows them (a byte that is not UTF-8 as ``\\xNN``)."""
        return {
            **attrs.asdict(self),
            "source": printable(self.source),
            "path": printable(self.path),
            "seconds": round(self.seconds, 4),
        }


def backup_target(dest: str, source: str | None = None, now: datetime | None = None) -> str:
    """Where a backup of ``source`` to ``dest`` goes: ``dest`` itself, or inside it when it
    is a folder (``np-backup-YYYYmmddTHHMMSSffffffZ.db``). An existing file is never a
    target, nor a name of ``source``'s or another database's files, nor a link to them
    (``store.outputs``).

    Raises:
        InvalidArgument: ``dest`` exists as a file, or is a database's file or a link to
            one (``cause="database_file"``), or its folder does not exist (``data``:
            ``field="path"``).
    """
    if os.path.isdir(dest):
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
        return os.path.join(dest, f"np-backup-{stamp}.db")
    if os.path.lexists(dest) and os.path.exists(dest):
        raise InvalidArgument(
            "The backup file already exists and np never overwrites it; remove it first, "
            "choose a new name, or give a folder to get a time-stamped file.",
            field="path",
        )
    check_output(dest, source, what="a backup")
    if os.path.lexists(dest):  # a link to nothing: writing through it would create its target
        raise InvalidArgument(
            "The backup path is a link to a file that does not exist; np never writes "
            "through it. Choose a new name, or give a folder to get a time-stamped file.",
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
    fails rather than replace a file that appeared meanwhile. ``timeout`` is the busy
    timeout in seconds.

    Raises:
        InvalidArgument: a bad destination (``data``: ``field="path"``).
        StorageBusy: the source stayed locked past the timeout (``data``: ``field="db"``,
            ``path``, ``cause``).
        StorageError: the source is missing, damaged or unreadable, or the copy failed its
            integrity check (same ``data``).
    """
    if is_pg_url(source):  # a PostgreSQL database: a normal np SQLite file all the same
        from ..pg import require

        require()
        from ..pg.ops import backup as backup_pg

        return backup_pg(source, dest)  # type: ignore[no-any-return]
    target = backup_target(dest, source)
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
        with contextlib.closing(src):
            version, findings, found = _copy(src, tmp, source)
        if findings != ["ok"]:
            raise StorageError(
                f"The copy failed its integrity check ({findings[0]}); nothing was written.",
                field="db",
                path=source,
                cause="corrupt",
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


def _copy(src: sqlite3.Connection, tmp: str, source: str) -> tuple[int, list[str], dict[str, int]]:
    """Back ``src`` up into ``tmp``: ``(schema version, integrity findings, counts)``."""
    try:
        version = read_version(src)
        with contextlib.closing(
            sqlite3.connect(sqlite_uri(tmp), isolation_level=None, uri=True)
        ) as dst:
            src.backup(dst)
            findings = integrity_check(dst)
            found = counts(dst) if version == SCHEMA_VERSION else {}
    except sqlite3.DatabaseError as exc:
        failure = classify_error(exc)
        data = {"field": "db", "path": source, "cause": str(failure)}
        if failure.busy:
            raise StorageBusy(
                "The database stayed busy past the timeout; try the backup again.", **data
            ) from None
        if isinstance(exc, sqlite3.OperationalError):
            raise StorageError(f"The backup failed ({exc}); nothing was written.", **data) from None
        raise StorageError(
            f"The database cannot be backed up ({exc}); it may be damaged or not an np database.",
            **data,
        ) from None
    return version, findings, found


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


__all__ = ["BackupResult", "backup", "backup_target"]
