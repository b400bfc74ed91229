"""What np's maintenance verbs do (``np doctor``, ``np backup``, ``np db migrate``,
``np db copy``), on either engine, with typed results. Imports no engine: each verb picks
the engine from the location (:func:`store.engine.engine_for`), so a SQLite file never
needs psycopg.

* :mod:`.results` — :class:`Report`/:class:`Check` (doctor), :class:`BackupResult`.
* :mod:`.copy` — :func:`copy_database` and :func:`migrate_database`.
"""

from __future__ import annotations

from ..engine import engine_for
from .results import FAIL, OK, WARN, BackupResult, Check, CheckStatus, Report, backup_target


def diagnose(location: str, *, lock_timeout: float | None = None) -> Report:
    """Every check of ``np doctor`` for ``location``, in order; reads only, never writes.
    ``lock_timeout`` is how long, in seconds, the write-lock probe waits (default: the
    busy timeout). Problems are findings in the report, never exceptions."""
    return engine_for(location).diagnose(location, lock_timeout=lock_timeout)


def backup(location: str, dest: str, *, timeout: float | None = None) -> BackupResult:
    """A verified copy of ``location`` as a normal np SQLite file at ``dest`` (or a
    time-stamped file inside it when it is a folder), never overwriting.

    Raises:
        InvalidArgument: a bad destination (``field="path"``).
        StorageBusy: the source stayed locked past the timeout.
        StorageError: the source is missing, damaged or unreadable, or the copy failed its
            integrity check.
    """
    return engine_for(location).backup(location, dest, timeout=timeout)


def consistency_problems(location: str) -> list[str]:
    """np's invariants that do not hold in the database at ``location`` (empty: sound)."""
    return engine_for(location).consistency_problems(location)


__all__ = [
    "FAIL",
    "OK",
    "WARN",
    "BackupResult",
    "Check",
    "CheckStatus",
    "Report",
    "backup",
    "backup_target",
    "consistency_problems",
    "diagnose",
]
