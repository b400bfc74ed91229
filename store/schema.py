"""The schema, versioned with ``PRAGMA user_version`` and migrated forward in place.

The hot path only reads ``user_version`` (cheap). Only when the file is older than this
code is ``store.migrations`` (and with it sqlite-utils) imported, and the migration runs
under ``BEGIN IMMEDIATE`` so two processes starting at once cannot both migrate.
"""

from __future__ import annotations

import sqlite3

from .db import write_transaction
from .errors import StorageError

SCHEMA_VERSION = 5


def read_version(conn: sqlite3.Connection) -> int:
    """``PRAGMA user_version``: 0 for a new file, else the schema the file was written with."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def newer_schema(version: int) -> StorageError:
    """The error for a file written by a newer np (not raised here)."""
    return StorageError(
        f"This database was written by a newer np (schema {version}; this np knows "
        f"{SCHEMA_VERSION}). Upgrade np to use it; the file was left untouched.",
        field="db",
        cause="newer_schema",
        schema_version=version,
        supported=SCHEMA_VERSION,
    )


def ensure_schema(conn: sqlite3.Connection, path: str = "") -> None:
    """Bring the file at ``path`` to :data:`SCHEMA_VERSION` (a no-op when it is current).

    Raises:
        StorageError: the file was written by a newer np (``data``: ``schema_version``,
            ``supported``), or cannot be migrated.
        StorageBusy: another process held the write lock past the timeout.
    """
    version = read_version(conn)
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise newer_schema(version)
    migrate(conn, SCHEMA_VERSION, path)


def migrate(conn: sqlite3.Connection, target: int, path: str = "") -> None:
    """Bring the file to ``target`` under ``BEGIN IMMEDIATE``; a racing process waits.

    Raises:
        StorageError: the file is newer than ``target``, or SQLite refused.
        StorageBusy: the write lock could not be had.
    """
    from sqlite_utils import Database

    from .migrations import migrations

    try:
        conn.execute("PRAGMA journal_mode=WAL")  # persistent; must run outside a transaction
    except sqlite3.OperationalError:
        pass  # another process holds the lock; WAL is set by whoever migrates first
    with write_transaction(conn, path):
        version = read_version(conn)  # re-read under the lock: someone may have migrated
        if version > target:
            raise newer_schema(version)
        if version < target:
            migrations.apply(Database(conn, execute_plugins=False, recursive_triggers=False))
            conn.execute(f"PRAGMA user_version = {int(target)}")
