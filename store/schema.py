"""The schema, versioned with ``PRAGMA user_version`` and migrated forward in place.

The hot path only reads ``user_version`` (cheap). Only when the file is older than this
code is ``store.migrations`` (and with it sqlite-utils) imported, and the migration runs
under ``BEGIN IMMEDIATE`` so two processes starting at once cannot both migrate.
"""

from __future__ import annotations

import sqlite3

from .errors import StorageError

SCHEMA_VERSION = 2


def read_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def newer_schema(version: int) -> StorageError:
    return StorageError(
        f"This database was written by a newer np (schema {version}; this np knows "
        f"{SCHEMA_VERSION}). Upgrade np to use it; the file was left untouched.",
        schema_version=version,
    )


def ensure_schema(conn: sqlite3.Connection) -> None:
    version = read_version(conn)
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise newer_schema(version)
    from .migrations import migrate

    migrate(conn, SCHEMA_VERSION)
