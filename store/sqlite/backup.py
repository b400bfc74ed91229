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

from ..errors import InvalidArgument, StorageBusy, StorageError
from ..ops.results import BackupResult, backup_target, link_into_place
from .conn import classify_error, sqlite_uri
from .probes import counts, integrity_check, open_existing
from .schema import SCHEMA_VERSION, read_version


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
        link_into_place(tmp, target)
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


__all__ = ["backup"]
