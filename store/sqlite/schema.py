"""The schema, versioned with ``PRAGMA user_version`` and migrated forward in place.

The hot path only reads ``user_version`` (cheap). Only when the file is older than this
code is ``store.sqlite.migrations`` (and with it sqlite-utils) imported, and the migration runs
under ``BEGIN IMMEDIATE`` so two processes starting at once cannot both migrate.
"""

from __future__ import annotations

import sqlite3

from ..errors import StorageError
from .conn import write_transaction

SCHEMA_VERSION = 7


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


# Tables every np database has had since its first schema.
NP_TABLES = frozenset({"sessions", "events"})


def foreign_tables(conn: sqlite3.Connection, version: int | None = None) -> list[str] | None:
    """None when the file is np's (it holds np's tables) or new (empty, ``user_version``
    0; an empty one above this np's schema is left to the newer-schema refusal); else the
    tables another program keeps in it (possibly none: an empty file with another
    program's ``user_version``)."""
    names = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    if set(names) >= NP_TABLES:
        return None
    if not names:
        # empty: a new file (0), or one a newer np left empty (refused as newer, untouched)
        found = read_version(conn) if version is None else version
        return None if found == 0 or found > SCHEMA_VERSION else names
    return names


def foreign_database(names: list[str], path: str = "") -> StorageError:
    """The error for another program's SQLite file (not raised here): np neither reads nor
    changes it (``cause="foreign"``, ``tables``: the first few of its tables)."""
    from ..text import printable, shorten

    shown = ", ".join(shorten(printable(n), 40) for n in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    holds = f"it holds tables np does not know ({shown}{more})" if names else "it is not np's"
    return StorageError(
        f"This SQLite file belongs to another program: {holds}; np neither reads nor changes it.",
        field="db",
        path=path,
        cause="foreign",
        tables=names[:5],
    )


def ensure_schema(conn: sqlite3.Connection, path: str = "") -> None:
    """Bring the file at ``path`` to :data:`SCHEMA_VERSION` (a no-op when it is current).
    Another program's SQLite file is refused untouched, reads included.

    Raises:
        StorageError: the file was written by a newer np (``data``: ``schema_version``,
            ``supported``), or belongs to another program (``cause="foreign"``), or
            cannot be migrated.
        StorageBusy: another process held the write lock past the timeout.
    """
    version = read_version(conn)
    if version == SCHEMA_VERSION:
        return
    foreign = foreign_tables(conn, version)
    if foreign is not None:
        raise foreign_database(foreign, path)
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
        foreign = foreign_tables(conn, version)  # and another program may have written
        if foreign is not None:
            raise foreign_database(foreign, path)
        if version > target:
            raise newer_schema(version)
        if version < target:
            migrations.apply(Database(conn, execute_plugins=False, recursive_triggers=False))
            conn.execute(f"PRAGMA user_version = {int(target)}")


def applied(path: str) -> list[str]:
    """The names of the migrations already applied to the file at ``path`` (none for a
    file that does not exist or is not an np database)."""
    import os

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
