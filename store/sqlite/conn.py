"""The SQLite connection: opening a file safely, pragmas, ``BEGIN IMMEDIATE`` within one
deadline, and the one place where SQLite and OS errors are classified (:func:`classify_error`)
and turned into the storage errors users see (:func:`storage_error`)."""

from __future__ import annotations

import contextlib
import enum
import errno
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator

from ..errors import StorageBusy, StorageError
from ..paths import make_private_folders
from ..settings import STOPPING, busy_timeout


class Failure(enum.StrEnum):
    """What went wrong in SQLite or the OS, as far as a user can act on it."""

    BUSY = "busy"  # another connection holds the lock (SQLITE_BUSY)
    LOCKED = "locked"  # a lock conflict inside this connection (SQLITE_LOCKED)
    NOT_A_DATABASE = "not_a_database"  # SQLITE_NOTADB (also an encrypted file)
    CORRUPT = "corrupt"  # SQLITE_CORRUPT: "database disk image is malformed"
    READ_ONLY = "read_only"  # SQLITE_READONLY, SQLITE_PERM, EACCES/EPERM/EROFS
    CANNOT_OPEN = "cannot_open"  # SQLITE_CANTOPEN, ENOENT
    FULL = "full"  # SQLITE_FULL, ENOSPC
    OTHER = "other"

    @property
    def busy(self) -> bool:
        return self in (Failure.BUSY, Failure.LOCKED)


_BY_CODE = {
    sqlite3.SQLITE_BUSY: Failure.BUSY,
    sqlite3.SQLITE_LOCKED: Failure.LOCKED,
    sqlite3.SQLITE_NOTADB: Failure.NOT_A_DATABASE,
    sqlite3.SQLITE_CORRUPT: Failure.CORRUPT,
    sqlite3.SQLITE_READONLY: Failure.READ_ONLY,
    sqlite3.SQLITE_PERM: Failure.READ_ONLY,
    sqlite3.SQLITE_CANTOPEN: Failure.CANNOT_OPEN,
    sqlite3.SQLITE_FULL: Failure.FULL,
}
_BY_ERRNO = {
    errno.EACCES: Failure.READ_ONLY,
    errno.EPERM: Failure.READ_ONLY,
    errno.EROFS: Failure.READ_ONLY,
    errno.ENOENT: Failure.CANNOT_OPEN,
    errno.ENOTDIR: Failure.CANNOT_OPEN,
    errno.ENOSPC: Failure.FULL,
}
# Only when an error carries no code (raised by hand, or by an older driver).
_BY_TEXT = (
    (("locked",), Failure.LOCKED),
    (("busy",), Failure.BUSY),
    (("not a database", "file is encrypted"), Failure.NOT_A_DATABASE),
    (("malformed",), Failure.CORRUPT),
    (("readonly", "read-only", "permission"), Failure.READ_ONLY),
    (("unable to open",), Failure.CANNOT_OPEN),
    (("disk is full", "database or disk is full"), Failure.FULL),
)


def classify_error(exc: BaseException) -> Failure:
    """Classify a ``sqlite3`` or OS error: by its primary result code
    (``exc.sqlite_errorcode & 0xFF``) or errno; by its message text only as a fallback."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _BY_CODE:
        return _BY_CODE[code & 0xFF]
    if isinstance(exc, OSError) and exc.errno in _BY_ERRNO:
        return _BY_ERRNO[exc.errno]
    text = str(exc).lower()
    for needles, failure in _BY_TEXT:
        if any(n in text for n in needles):
            return failure
    return Failure.OTHER


# One sentence for a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB), whatever read or write
# met it: neutral (no door's command names); each door adds its own next step.
DAMAGED = (
    "The database file is damaged or is not an np database; nothing was written. Its "
    "operator should check it with the doctor, then restore the last good backup with "
    "every np program stopped (server and monitor too), moving it over the file, never "
    "copying it."
)

_MESSAGES = {
    Failure.NOT_A_DATABASE: DAMAGED,
    Failure.CORRUPT: DAMAGED,
    Failure.READ_ONLY: "The database cannot be written (read-only file or folder); "
    "fix its permissions or use another database file.",
    Failure.CANNOT_OPEN: "The database file cannot be opened; check that its folder "
    "exists and is writable, or use another database file.",
    Failure.FULL: "The disk holding the database is full; nothing was written. "
    "Free some space and try again.",
}


def storage_error(exc: BaseException, path: str) -> StorageError | StorageBusy:
    """The user-facing error for a ``sqlite3``/OS error on the database at ``path``.

    ``data``: ``field="db"``, ``path``, ``cause`` (a :class:`Failure` value).
    """
    failure = classify_error(exc)
    if failure is Failure.OTHER and _is_io_error(exc) and disk_full(path):
        failure = Failure.FULL  # SQLite says "disk I/O error" when it cannot grow -shm
    data = {"field": "db", "path": path, "cause": str(failure)}
    if failure.busy:
        return StorageBusy(
            "The database stayed busy past the busy timeout; nothing was written. Try the "
            "command again.",
            **data,
        )
    message = _MESSAGES.get(failure)
    if message is None:
        message = f"The database reported an error ({exc}); nothing was written."
    return StorageError(message, **data)


def _is_io_error(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) == sqlite3.SQLITE_IOERR
    return "disk i/o error" in str(exc).lower()


DISK_FULL_BYTES = 256 * 1024  # less free space than this beside the database: "full"


def disk_full(path: str) -> bool:
    """Is the file system holding ``path`` (or its folder) out of space for np? Counts the
    blocks this user may use (root may use the reserved ones)."""
    folder = os.path.dirname(os.path.abspath(path)) or "/"
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    blocks = st.f_bfree if os.geteuid() == 0 else st.f_bavail
    return blocks * st.f_frsize < DISK_FULL_BYTES


@contextlib.contextmanager
def mapped_errors(path: str) -> Iterator[None]:
    """Turn sqlite3 and OS errors into the two storage errors users can act on."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise  # a constraint: the caller knows what it means
    except (sqlite3.DatabaseError, OSError) as exc:
        raise storage_error(exc, path) from None


def _refuse_sidecar(path: str) -> None:
    """A new database is never created where SQLite keeps another database's log or
    journal (``np.db-wal`` while it is checkpointed away): that database would take it
    for its own and lose commits."""
    from ..outputs import sidecar_name

    why = sidecar_name(path)
    if why is not None:
        raise StorageError(
            f"The database path {why}; np never creates a database there. Give the "
            "database's own path.",
            field="db",
            path=path,
            cause="database_file",
        )


def _create_file(path: str) -> None:
    """Create the database file 0600 (and missing folders 0700) before SQLite opens it."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        make_private_folders(folder)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
    except FileExistsError:
        pass
    except OSError as exc:
        reason = "permission denied" if exc.errno in (errno.EACCES, errno.EPERM) else exc.strerror
        raise StorageError(
            f"Cannot create the database ({reason}); choose a writable place for it.",
            field="db",
            path=path,
            cause=str(classify_error(exc)),
        ) from None


_URI_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")


def sqlite_uri(path: str) -> str:
    """``file:`` URI of ``path`` (made absolute), every unsafe byte percent-escaped: SQLite
    opens exactly that file, whatever its name holds (``?``, ``#``, ``%``, bytes that are
    not UTF-8)."""
    raw = os.fsencode(os.path.abspath(path))
    return "file:" + "".join(chr(b) if b in _URI_SAFE else f"%{b:02X}" for b in raw)


#: The longest single wait in SQLite's busy handler (ms): how late, at most, a signal
#: that arrives while a write waits for the lock is acted on.
WAIT_SLICE_MS = 100


class Connection(sqlite3.Connection):
    """np's connection: it remembers its busy timeout, so taking the write lock does not
    ask SQLite for it each time (a statement fewer per unit of work)."""

    busy_ms: int | None = None  # milliseconds; None: ask SQLite (a connection np did not open)


def connect(
    path: str, *, timeout: float | None = None, create: bool = True, exclusive: bool = False
) -> sqlite3.Connection:
    """Open ``path`` with np's pragmas. The driver is in autocommit: np owns every BEGIN.
    ``timeout`` is the busy timeout in seconds (default: :func:`busy_timeout`).
    ``exclusive`` keeps WAL's shared index in this process's memory (locking_mode
    EXCLUSIVE): how a short-lived reader still reads when the disk is too full to create
    the ``-shm`` file; it holds the file's lock until closed."""
    if timeout is None:
        timeout = busy_timeout()
    if path != ":memory:" and not os.path.exists(path):
        if not create:
            raise StorageError(
                "There is no database there yet.", field="db", path=path, cause="missing"
            )
        _refuse_sidecar(path)
        _create_file(path)
    if os.path.isdir(path):
        raise StorageError(
            "The database path names a folder, not a file.",
            field="db",
            path=path,
            cause=str(Failure.CANNOT_OPEN),
        )
    with mapped_errors(path):
        # Always as a file: URI built from the path, so SQLite never reads a path as a URI
        # of its own (a relative "file:x" creating a stray folder while SQLite writes
        # elsewhere) nor stops at a "?" or "#" in a file name.
        target = path if path == ":memory:" else sqlite_uri(path)
        conn = sqlite3.connect(
            target, isolation_level=None, timeout=timeout, uri=True, factory=Connection
        )
        conn.busy_ms = int(timeout * 1000)  # as the driver set it
        try:
            if exclusive:
                conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()
            raise
    return conn


def begin_immediate(
    conn: sqlite3.Connection,
    path: str,
    on_wait: Callable[[bool], None] | None = None,
    timeout: float | None = None,
) -> None:
    """Take the write lock, waiting for it at most the connection's busy timeout **in
    total** (``NP_BUSY_TIMEOUT``, default 5 s), or ``timeout`` seconds when that is
    shorter, then raise ``StorageBusy``.

    The first attempt does not wait. When another connection holds the lock,
    ``on_wait(True)`` is called once before waiting and ``on_wait(False)`` once the wait is
    over (lock taken or not), so a caller can let reads go ahead of a blocked write. Later
    attempts wait in SQLite's busy handler in slices of at most :data:`WAIT_SLICE_MS`
    until the one deadline: SQLite waits inside C, where Python's signal handlers cannot
    run, so Ctrl-C, SIGTERM or SIGHUP during the wait is acted on within a slice (the
    error ends the wait with nothing written), never after the whole busy timeout. A busy
    answer that comes back before its slice ended (SQLite skips the handler in some WAL
    states) is retried after a short jittered sleep, still within the same deadline."""
    budget_ms = getattr(conn, "busy_ms", None)
    if budget_ms is None:
        with mapped_errors(path):
            budget_ms = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    wait_at_most = budget_ms if timeout is None else min(budget_ms, int(timeout * 1000))
    deadline = time.monotonic() + wait_at_most / 1000
    waiting = False
    try:
        wait_ms = 0
        while True:
            tried = time.monotonic()
            try:
                conn.execute(f"PRAGMA busy_timeout={wait_ms}")
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not classify_error(exc).busy:
                    raise storage_error(exc, path) from None
                now = time.monotonic()
                left = deadline - now
                if left <= 0:
                    raise storage_error(exc, path) from None
                if STOPPING.is_set():  # this process is stopping: wait no longer
                    raise StorageBusy(
                        "np is stopping, so this write stopped waiting for the database's "
                        "write lock; nothing was written. Send it again once np runs.",
                        field="db",
                        path=path,
                        cause="stopping",
                    ) from None
                if not waiting:
                    waiting = True
                    if on_wait is not None:
                        on_wait(True)
                elif now - tried < wait_ms / 2000:  # SQLite gave up early: pause, then retry
                    import random  # rare path; keep it off the import path of every verb

                    time.sleep(min(left, random.uniform(0.005, 0.025)))
                    left = deadline - time.monotonic()
                wait_ms = max(1, min(WAIT_SLICE_MS, int(left * 1000)))
            except sqlite3.DatabaseError as exc:
                raise storage_error(exc, path) from None
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute(f"PRAGMA busy_timeout={budget_ms}")
        if waiting and on_wait is not None:
            on_wait(False)


@contextlib.contextmanager
def write_transaction(
    conn: sqlite3.Connection,
    path: str,
    on_wait: Callable[[bool], None] | None = None,
    timeout: float | None = None,
) -> Iterator[None]:
    """One ``BEGIN IMMEDIATE`` transaction: COMMIT on success, ROLLBACK on any exception.
    ``on_wait`` and ``timeout``: see :func:`begin_immediate`."""
    begin_immediate(conn, path, on_wait, timeout)
    try:
        yield
    except BaseException:
        _end(conn, "ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        _end(conn, "ROLLBACK")
        raise storage_error(exc, path) from None


def _end(conn: sqlite3.Connection, sql: str) -> None:
    """End an open transaction after an error (``ROLLBACK``, or ``COMMIT`` of a read):
    a damaged file can fail this too, and must not hide the error being raised."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute(sql)


@contextlib.contextmanager
def read_transaction(conn: sqlite3.Connection, path: str) -> Iterator[None]:
    """A deferred transaction: one consistent snapshot, never the write lock."""
    with mapped_errors(path):
        conn.execute("BEGIN")
    try:
        with mapped_errors(path):
            yield
    except BaseException:
        _end(conn, "COMMIT")
        raise
    if conn.in_transaction:
        with mapped_errors(path):
            conn.execute("COMMIT")


# Old connections on a database file that was replaced under this process (see
# reopen_if_replaced). They are never closed: SQLite, closing what it takes for the last
# connection on the old file, would checkpoint the write-ahead log — which it finds by
# name, so it is now the new file's — into the old file and delete it, losing the new
# file's latest commits. A process holding one ends with os._exit (server.cli does).
_PARKED: list[sqlite3.Connection] = []
_NEUTRALISED: set[tuple[str, tuple[int, int] | None]] = set()
_REPLACE_LOCK = threading.Lock()


def parked_connections() -> int:
    """How many connections this process keeps open on replaced database files."""
    return len(_PARKED)


def file_removed(path: str) -> StorageError:
    """The error for a database file that was removed or moved away while np had it open
    (``cause="replaced"``): np does not silently start a new, empty database there."""
    return StorageError(
        "The database file was removed or moved away while np had it open; nothing was "
        "written. Put it back, or restart np to start a new database there.",
        field="db",
        path=path,
        cause="replaced",
    )


def reopen_if_replaced(
    conn: sqlite3.Connection, path: str, identity: tuple[int, int] | None, timeout: float | None
) -> tuple[sqlite3.Connection, tuple[int, int] | None] | None:
    """Notice that ``path`` names another file than the one ``conn`` has open (a restore
    with ``mv backup.db np.db`` under a running server or monitor) and move over to it.

    Returns None when it is still the same file; else ``(new connection, new identity)``.
    The first connection of this process to notice checkpoints the old file's write-ahead
    log into the old file and truncates it (SQLite finds the log by name, so it now sits
    beside the new file and would otherwise be read as the new file's), before anything is
    written to the new file. The old connection is parked, never closed (``_PARKED``).

    Raises:
        StorageError: the file is gone (``cause="replaced"``: removed or moved away, and
            nothing put in its place), or the old log is still in use by another process
            (``cause="replaced"``): nothing was written.
    """
    from ..paths import file_identity

    if path == ":memory:":
        return None
    now = file_identity(path)
    if now == identity:
        return None
    if now is None:
        raise file_removed(path)
    with _REPLACE_LOCK:
        if (path, identity) not in _NEUTRALISED:
            try:
                row = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.DatabaseError:
                row = (1, 0, 0)
            if row is not None and row[0]:  # busy: another process uses the old file's log
                raise StorageError(
                    "The database file was replaced while np had it open, and another "
                    "process still uses the old file; nothing was written. Stop the other "
                    "np programs (np serve, np m) and try again.",
                    field="db",
                    path=path,
                    cause="replaced",
                )
            _NEUTRALISED.add((path, identity))
        _PARKED.append(conn)
    return connect(path, timeout=timeout, create=False), now
