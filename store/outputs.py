"""Where np may write a file of its own (an export, a backup, a copy, a log): never onto a
database — np's or another program's — nor onto the files SQLite keeps beside one
(``-wal``, ``-shm``, ``-journal``), nor through a symbolic or hard link to any of them.

Every door that writes a path the user named asks :func:`check_output` first (the CLI's
``export -o``, ``np backup``, ``np db copy``, the servers' ``--log-file``). Engine-neutral
and stdlib only: the guard never opens a database.
"""

from __future__ import annotations

import os
import stat

from .errors import InvalidArgument

#: The files SQLite keeps beside a database, by the suffix added to its name.
SIDECARS = ("-wal", "-shm", "-journal")

# The first bytes of a SQLite database, of a write-ahead log (either byte order of its
# checksums) and of a rollback journal.
_MAGIC = (
    b"SQLite format 3\x00",
    b"\x37\x7f\x06\x82",
    b"\x37\x7f\x06\x83",
    b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7",
)
_HEAD = 16


def database_files(db: str) -> list[str]:
    """The database file ``db`` and the names of its sidecars (whether or not they exist)."""
    return [db, *(db + suffix for suffix in SIDECARS)]


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)  # follows symbolic links: a link names its target
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


def _names(path: str) -> set[str]:
    """``path`` as given (absolute) and with every link resolved (also a dangling one)."""
    absolute = os.path.abspath(path)
    return {absolute, os.path.realpath(absolute)}


def read_regular(path: str, size: int = -1, offset: int = 0) -> bytes | None:
    """Up to ``size`` bytes (all when negative) of ``path`` from ``offset``, when it is (or
    links to) a regular file; None for anything else (a FIFO, a pipe such as /dev/stdout, a
    device, a socket, a folder) or when it cannot be read. Never blocks on a FIFO with no
    writer: the file is opened non-blocking and checked before a byte is read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as fh:
            fh.seek(offset)
            return fh.read(size)
    except OSError:
        return None
    finally:
        os.close(fd)


def _looks_like_sqlite(path: str) -> bool:
    """Whether ``path`` is (or links to) a SQLite database, log or journal, by its bytes.
    Only a regular file is read (:func:`read_regular`): writing to a pipe, a FIFO or a
    device is never a write onto a database."""
    head = read_regular(path, _HEAD)
    return head is not None and any(head.startswith(magic) for magic in _MAGIC)


def _sidecar_of_database(name: str) -> bool:
    """Whether ``name`` is named as a sidecar of a file that is a SQLite database."""
    return any(
        name.endswith(suffix) and _looks_like_sqlite(name[: -len(suffix)]) for suffix in SIDECARS
    )


def own_file(path: str, db: str | None) -> str | None:
    """Why ``path`` is the database ``db`` or one of its sidecars — by name, or through a
    symbolic or hard link, also one not yet created (``db-wal`` between two commits) — or
    None. ``db``: a file path; a URL or ``":memory:"`` has no files."""
    if not db or db == ":memory:" or "://" in db:
        return None
    names = _names(path)
    identity = _identity(path)
    main = os.path.abspath(db)
    for own in database_files(main):
        if names & _names(own) or (identity is not None and identity == _identity(own)):
            return (
                "is the database np uses"
                if own == main
                else f"is the {own[len(main) + 1 :]} file of the database np uses"
            )
    return None


def sidecar_name(path: str) -> str | None:
    """Why ``path`` is named as a sidecar (``-wal``, ``-shm``, ``-journal``) of a SQLite
    database beside it (with links resolved), or None."""
    if any(_sidecar_of_database(name) for name in _names(path)):
        return "is named as the log or journal of a SQLite database beside it"
    return None


def database_conflict(path: str, db: str | None = None) -> str | None:
    """Why writing ``path`` would damage a database, or None when it would not.

    ``db`` is the database the running command uses. Refused: ``db`` or one of its
    sidecars (:func:`own_file`); any existing file that is a SQLite database, log or
    journal (another program's, or another np database), also through a link; a
    sidecar's name beside a SQLite database (:func:`sidecar_name`).
    """
    why = own_file(path, db)
    if why is not None or os.path.isdir(path):
        return why
    if _looks_like_sqlite(path):
        return "is a SQLite database (or its log or journal)"
    return sidecar_name(path)


def check_output(
    path: str, db: str | None = None, *, field: str = "path", what: str, database: bool = False
) -> None:
    """Refuse to write ``what`` (``"the export"``, ``"the backup"``…) at ``path`` when that
    would write onto a database (:func:`database_conflict`). ``database``: what is written
    is itself a database (``np db copy``'s destination may be an empty np database), so
    only ``db``'s own files and sidecar names are refused.

    Raises:
        InvalidArgument: ``field`` as given, ``cause="database_file"``; nothing was written.
    """
    why = (own_file(path, db) or sidecar_name(path)) if database else database_conflict(path, db)
    if why is None:
        return
    from .text import printable, shorten

    raise InvalidArgument(
        f"np never writes {what} onto a database: {shorten(printable(path), 200)} {why}. "
        "Nothing was written; choose another file.",
        field=field,
        cause="database_file",
    )


def check_copy(source: str, dest: str) -> None:
    """``np db copy FROM TO`` between file databases: the source must exist (a mistyped
    one is never created), and the destination must not be the source's file, a sidecar
    of it, or a link to them (:func:`check_output` with ``database=True``). URLs pass.

    Raises:
        InvalidArgument: ``field="from"`` (``cause="missing"``) or ``field="to"``
            (``cause="database_file"``); nothing was opened.
    """
    from .paths import db_location

    src = db_location(source)
    dst = db_location(dest)
    if src != ":memory:" and "://" not in src and not os.path.lexists(src):
        from .text import printable, shorten

        raise InvalidArgument(
            f"There is no database at {shorten(printable(src), 200)} to copy from; check the "
            "path. Nothing was created.",
            field="from",
            cause="missing",
        )
    if dst != ":memory:" and "://" not in dst:
        check_output(dst, src, field="to", what="the copy", database=True)


__all__ = [
    "SIDECARS",
    "check_copy",
    "check_output",
    "database_conflict",
    "database_files",
    "own_file",
    "sidecar_name",
]
