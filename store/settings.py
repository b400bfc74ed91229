"""np's settings that both engines and every door share, read in one place.

Imports nothing heavy: every CLI run reads these. ``engine_name`` is the one answer to
"which engine does this database location name?" (the doors never ask it: they ask the
store, see :attr:`store.store.Store.engine`).
"""

from __future__ import annotations

import os
import threading

# Set when this process is stopping (a server that got SIGTERM, SIGINT or SIGHUP): no write
# waits for another process's lock any longer; the one waiting is answered storage_busy,
# nothing written, within one slice of SQLite's wait (store.sqlite.conn.WAIT_SLICE_MS), so
# the server answers every request it read and ends promptly (:func:`stop_waiting`).
STOPPING = threading.Event()


def stop_waiting() -> None:
    """From now on, no write of this process waits for the lock (safe in a signal handler)."""
    STOPPING.set()


# The longest one write waits for another writer's lock, in total, in seconds
# (NP_BUSY_TIMEOUT overrides); then it fails with storage_busy and nothing is written.
BUSY_TIMEOUT = 5.0
# The finest wait both engines can keep (SQLite's busy timeout and PostgreSQL's
# lock_timeout count whole milliseconds; PostgreSQL reads 0 as "wait forever").
TIMEOUT_STEP = 0.001
SCOPE_MAX = 200
PG_SCHEMES = ("postgresql://", "postgres://")


def engine_name(location: str) -> str:
    """``"postgresql"`` for a ``postgresql://``/``postgres://`` URL, else ``"sqlite"``
    (a file path, a ``file:`` URI or ``:memory:``): the key of :data:`store.engine.ENGINES`."""
    return "postgresql" if location[:13].lower().startswith(PG_SCHEMES) else "sqlite"


def is_shared(location: str) -> bool:
    """Whether ``location`` names a database that several machines share (PostgreSQL)."""
    return engine_name(location) != "sqlite"


def busy_timeout() -> float:
    """``$NP_BUSY_TIMEOUT`` in seconds, else :data:`BUSY_TIMEOUT`; empty is unset. ``0``
    means "do not wait": a write the lock is not free for fails at once, on both engines;
    otherwise from 0.001 (one millisecond) to 600.

    Raises:
        InvalidArgument: set to anything else, a value between 0 and 1 ms included (which
            one engine would read as "never wait" and the other as "wait forever")
            (``field="NP_BUSY_TIMEOUT"``): a setting that does not do what it says is
            refused, not silently replaced.
    """
    raw = os.environ.get("NP_BUSY_TIMEOUT")
    if not raw:
        return BUSY_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (value == 0 or TIMEOUT_STEP <= value <= 600):  # also NaN
        from .errors import InvalidArgument
        from .text import printable, shorten

        raise InvalidArgument(
            "NP_BUSY_TIMEOUT must be 0 (do not wait for a lock) or a number of seconds from "
            f"0.001 to 600; it is '{shorten(printable(raw), 40)}'. Fix it or unset it.",
            field="NP_BUSY_TIMEOUT",
        )
    return value


def timeout_ms(seconds: float) -> int:
    """A wait in whole milliseconds, for either engine: 0 only for 0 ("do not wait");
    anything above rounds up, so no positive wait becomes 0."""
    if seconds <= 0:
        return 0
    import math

    return max(1, math.ceil(seconds * 1000 - 1e-9))


def scope_from_env(value: str, host: str) -> str:
    """The scope of sessions started here: ``value`` (``$NP_SCOPE``) stripped, else ``host``.

    Raises:
        InvalidArgument: ``value`` is longer than :data:`SCOPE_MAX` characters or holds a
            character that is not printable (a line break, an escape sequence, bytes that
            are not UTF-8) (``field="scope"``): it is shown in ``np ls`` and ``np m``.
    """
    name = value.strip()
    if not name:
        return host
    if (
        len(name) > SCOPE_MAX
        or not name.isprintable()
        or any("\ud800" <= ch <= "\udfff" for ch in name)  # bytes that are not UTF-8
    ):
        from .errors import InvalidArgument

        raise InvalidArgument(
            f"NP_SCOPE needs a name of 1 to {SCOPE_MAX} printable UTF-8 characters on one "
            "line, e.g. NP_SCOPE=github.com/acme/shop.",
            field="scope",
        )
    return name


def shared_scope() -> str:
    """``$NP_SCOPE``, else this machine's host name: the scope of sessions started here on
    a shared database (validated, see :func:`scope_from_env`)."""
    import socket

    return scope_from_env(os.environ.get("NP_SCOPE", ""), socket.gethostname())


def default_actor(location: str, name: str) -> str:
    """The actor a door records for its user ``name`` (``agent``, ``operator``, an editor's
    name) when none is given: ``name`` on SQLite; ``name@host`` on a shared database
    (:func:`machine_actor`)."""
    return machine_actor(name) if is_shared(location) else name


def machine_actor(name: str) -> str:
    """``name@<host name>``: the default actor on a shared database, where machines share
    a plan through one scope, so each machine's agent is told of the others' changes (an
    actor is never told of its own) and the log says which machine acted."""
    import socket

    return f"{name}@{socket.gethostname()}"


__all__ = [
    "BUSY_TIMEOUT",
    "busy_timeout",
    "default_actor",
    "engine_name",
    "is_shared",
    "machine_actor",
    "scope_from_env",
    "shared_scope",
]
