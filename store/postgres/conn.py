"""The PostgreSQL connection: settings in the startup packet, np's SQL dialect, transactions
with few round trips, and errors a user can act on.

psycopg is imported here and only here (and in the modules that import this one), so the
SQLite path never pays for it.

Round trips. A write transaction runs in psycopg's pipeline mode: ``BEGIN`` is queued,
statements whose results nobody reads (the inserts and updates of a unit of work) are
queued too, and only a read the unit needs makes a round trip. The ``NOTIFY`` of the
change feed and the ``COMMIT`` travel together in the last one.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg.types.string import TextLoader

from ..errors import NpError, StorageBusy, StorageError
from ..settings import busy_timeout, timeout_ms
from ..url import label

CONNECT_TIMEOUT = 5  # seconds, unless the URL says otherwise
IDLE_IN_TRANSACTION_TIMEOUT = 30  # seconds: a client that vanished mid-unit frees its locks
NOTIFY_CHANNEL = "np_changes"

# SQLSTATEs a unit may meet when another writer holds on: lock_not_available (lock_timeout),
# deadlock_detected, serialization_failure, query_canceled (statement_timeout).
BUSY_STATES = {"55P03", "40P01", "40001", "57014"}

Params = Sequence[Any]


class ConnectionLost(StorageError):
    """The connection broke before any ``COMMIT`` was sent: nothing of the request can
    have been written, so a long-running door may reconnect and run it once more
    (``retry_safe``; see ``server.commands.runner``)."""

    retry_safe: ClassVar[bool] = True


def connect(url: str, *, timeout: float | None = None, application: str = "np") -> PgConnection:
    """Open ``url`` in autocommit mode (np owns every ``BEGIN``).

    ``timeout`` is how long a statement waits for a lock, in seconds (default
    ``$NP_BUSY_TIMEOUT``, else 5): it becomes ``lock_timeout``. The startup packet also sets
    ``idle_in_transaction_session_timeout`` and, unless the URL has one, a 5 s
    ``connect_timeout``, so no setting costs a round trip.

    Raises :class:`~store.errors.StorageError` (unreachable, login refused, no such
    database) with the server named but never the password.
    """
    # PostgreSQL reads lock_timeout=0 as "wait forever"; np's 0 means "do not wait": the
    # shortest wait PostgreSQL keeps, one millisecond (NP_BUSY_TIMEOUT means the same on
    # both engines).
    lock_ms = max(1, timeout_ms(busy_timeout() if timeout is None else timeout))
    try:
        params: dict[str, Any] = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise StorageError(
            "The PostgreSQL URL cannot be parsed; check its spelling.", server=label(url)
        ) from None
    options = str(params.pop("options", "") or "")
    options += (
        f" -c lock_timeout={lock_ms}"
        f" -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT * 1000}"
        " -c TimeZone=UTC"
    )
    params.setdefault("connect_timeout", CONNECT_TIMEOUT)
    params.setdefault("application_name", application)
    try:
        raw = psycopg.connect(autocommit=True, options=options.strip(), **params)
    except psycopg.Error as exc:
        raise connect_error(exc, url) from None
    # JSON columns come back as the exact text np wrote (rows.event parses it, as on SQLite).
    raw.adapters.register_loader("json", TextLoader)
    return PgConnection(raw, url, timeout)


def connect_error(exc: psycopg.Error, url: str) -> NpError:
    """Why a connection could not be opened, in words a user can act on.

    libpq's connection failures carry no SQLSTATE (psycopg's ``sqlstate`` is ``None``), so
    they are classified by what libpq knows: psycopg's error class (``ProgrammingError``:
    libpq rejected the URL's parameters before connecting), ``needs_password`` (the server
    asked for a password nobody supplied), and whether the server answered (a ``FATAL``
    from the server is a refusal, not an unreachable network). Never shows the password."""
    where = label(url)
    state = exc.sqlstate or ""
    pgconn = getattr(exc, "pgconn", None)
    raw_text = getattr(pgconn, "error_message", b"") or b""
    detail = raw_text.decode("utf-8", "replace") if isinstance(raw_text, bytes) else str(raw_text)
    try:
        params: dict[str, Any] = conninfo_to_dict(url)
    except psycopg.Error:
        params = {}
    if isinstance(exc, psycopg.ProgrammingError) and pgconn is None:
        named = sorted(k for k in params if k != "password" and f" {k}" in str(exc))
        return StorageError(
            "The PostgreSQL URL cannot be parsed"
            + (f": {', '.join(named)}" if named else "")
            + "; check its spelling and its parameters' values.",
            field="db",
            server=where,
            cause="bad_url",
            **({"parameters": named} if named else {}),
        )
    if (
        state in ("28P01", "28000")
        or getattr(pgconn, "needs_password", False)
        or "authentication failed" in detail.lower()
    ):
        return StorageError(
            f"The PostgreSQL server at {where} refused the login; check the user name and "
            "the password source (PGPASSWORD, ~/.pgpass or a service file).",
            field="db",
            server=where,
            cause="login_refused",
        )
    user = str(params.get("user") or "")
    if user and f'role "{user}" does not exist' in detail:
        return StorageError(
            f"The PostgreSQL server at {where} has no role {user}; check the user name in "
            "the URL (or PGUSER).",
            field="db",
            server=where,
            cause="no_role",
            user=user,
        )
    text = str(exc).lower()
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return StorageError(
            f"There is no such database on the PostgreSQL server at {where}; check the URL.",
            field="db",
            server=where,
            cause="no_database",
        )
    if "FATAL:" in detail:  # the server answered and refused: not a network problem
        reason = detail.split("FATAL:", 1)[1].strip().splitlines()[0]
        return StorageError(
            f"The PostgreSQL server at {where} refused the connection ({reason}).",
            field="db",
            server=where,
            cause="refused",
        )
    return StorageError(
        f"The PostgreSQL server at {where} cannot be reached; check the database URL and "
        "the network.",
        field="db",
        server=where,
        cause="unreachable",
    )


def storage_error(exc: BaseException, url: str, *, committing: bool = False) -> NpError:
    """Map a psycopg error raised while working to np's storage errors."""
    where = label(url)
    state = getattr(exc, "sqlstate", None) or ""
    if state in BUSY_STATES:
        return StorageBusy(
            "Another writer held the session past the timeout; try the command again.",
            field="db",
            server=where,
        )
    if isinstance(exc, psycopg.OperationalError) and state[:2] in ("", "08", "57"):
        if committing:
            return StorageError(
                f"The connection to the PostgreSQL server at {where} broke while committing; "
                "the change may or may not have been saved: check before retrying.",
                field="db",
                server=where,
                cause="connection_lost",
                committing=True,
            )
        return ConnectionLost(
            f"The connection to the PostgreSQL server at {where} broke; nothing was "
            "written; try again.",
            field="db",
            server=where,
            cause="connection_lost",
        )
    if state == "42501":
        return StorageError(
            "The database role lacks a privilege np needs; grant it the np_app role.",
            field="db",
            server=where,
            cause="privilege",
        )
    if state == "42P01":
        return StorageError(
            "The database has no np schema yet; it needs migrating.",
            field="db",
            server=where,
            cause="schema_missing",
        )
    if state == "25006":
        return StorageError(
            "The database is read-only (a standby?); use the primary server.",
            field="db",
            server=where,
            cause="read_only",
        )
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) or type(exc).__name__
    return StorageError(
        f"The database reported an error ({state or 'no SQLSTATE'}: {primary}); "
        "nothing was written.",
        server=where,
        sqlstate=state,
    )


@functools.lru_cache(maxsize=256)
def placeholders(sql: str) -> str:
    """np's SQL as psycopg wants it: qmark ``?`` → ``%s`` (a literal ``%`` escaped), and
    nothing else: np writes its SQL once, portably (the only difference between the
    engines is the placeholder style, as Django's SQLite backend converts its own).
    np's SQL has no literal ``?`` in strings; tests/store/test_sql_portable.py runs it."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """A psycopg connection that runs np's SQL (see :func:`placeholders`) and owns its
    transactions. Used from one thread at a time, like ``sqlite3.Connection``."""

    def __init__(
        self, raw: psycopg.Connection[Any], url: str, timeout: float | None = None
    ) -> None:
        self.raw = raw
        self.url = url
        self._timeout = timeout
        self._prefetched: dict[tuple[str, tuple[Any, ...]], psycopg.Cursor[Any]] = {}

    def prefetch(self, sql: str, params: Params = ()) -> None:
        """Queue ``sql`` now (in a pipeline: no round trip); the next :meth:`execute` of the
        same statement with the same parameters, in this transaction, gets its cursor."""
        self._prefetched[(sql, tuple(params))] = self.execute(sql, params)

    def execute(self, sql: str, params: Params = ()) -> psycopg.Cursor[Any]:
        if self._prefetched:
            queued = self._prefetched.pop((sql, tuple(params)), None)
            if queued is not None:
                return queued
        return self.raw.execute(placeholders(sql), params)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()

    @property
    def closed(self) -> bool:
        return self.raw.closed

    def ensure_open(self) -> None:
        """Reconnect if the connection broke (a server restart, a network cut): a
        long-lived ``np serve`` reports the failure once, then works again. No round trip
        when the connection is fine."""
        if self.raw.closed or self.raw.broken:
            with contextlib.suppress(Exception):
                self.raw.close()
            fresh = connect(self.url, timeout=self._timeout)
            self.raw = fresh.raw

    def _rollback_quietly(self) -> None:
        if self.raw.closed:
            return
        status = self.raw.info.transaction_status
        if status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            with contextlib.suppress(psycopg.Error):
                self.raw.execute("ROLLBACK")

    @contextlib.contextmanager
    def write(self) -> Iterator[ServerClock]:
        """One READ COMMITTED write transaction in pipeline mode: COMMIT on success,
        ROLLBACK on any exception. Yields the unit's :class:`ServerClock`.

        Locking rule: a unit locks its session row (``UPDATE sessions …``) before it reads
        what it is about to change; READ COMMITTED then shows every earlier commit."""
        self.ensure_open()
        raw = self.raw
        committing = False
        self._prefetched.clear()
        try:
            with raw.pipeline():
                raw.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                yield ServerClock(raw)
                committing = True
                raw.execute("COMMIT")
        except NpError:
            self._rollback_quietly()
            raise
        except psycopg.Error as exc:
            self._rollback_quietly()
            raise storage_error(exc, self.url, committing=committing) from None
        except BaseException:
            self._rollback_quietly()
            raise
        finally:
            self._prefetched.clear()

    @contextlib.contextmanager
    def read(self, queue: Sequence[tuple[str, Params]] = ()) -> Iterator[None]:
        """One consistent snapshot (REPEATABLE READ, READ ONLY); never takes a row lock.
        The statements in ``queue`` are sent with the ``BEGIN`` (see :meth:`prefetch`), so
        a read of several statements waits for the server once, not once per statement."""
        self.ensure_open()
        raw = self.raw
        self._prefetched.clear()
        try:
            with raw.pipeline():
                raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                for sql, params in queue:
                    self.prefetch(sql, params)
                yield
                raw.execute("COMMIT")
        except NpError:
            self._rollback_quietly()
            raise
        except psycopg.Error as exc:
            self._rollback_quietly()
            raise storage_error(exc, self.url) from None
        except BaseException:
            self._rollback_quietly()
            raise
        finally:
            self._prefetched.clear()

    @contextlib.contextmanager
    def single(self) -> Iterator[None]:
        """A read of one statement: no ``BEGIN``/``COMMIT`` around it (a statement is its
        own snapshot), so it costs one round trip instead of two."""
        self.ensure_open()
        try:
            yield
        except psycopg.Error as exc:
            self._rollback_quietly()
            raise storage_error(exc, self.url) from None

    @contextlib.contextmanager
    def mapped_errors(self) -> Iterator[None]:
        """psycopg errors outside a transaction → np's storage errors."""
        try:
            yield
        except psycopg.Error as exc:
            raise storage_error(exc, self.url) from None


class ServerClock:
    """The server's clock as an np clock (a callable returning an aware ``datetime``),
    read once per unit, *after* the unit's first lock: every machine's units are stamped
    by one clock, and a unit that waited for a session is stamped after the unit it waited
    for committed, so times never go backwards within a session.

    The unit of work feeds it from the statement that takes the lock (:meth:`expect` or
    :meth:`set`), so reading it costs no round trip; asked before any lock, it asks the
    server then (one round trip).
    """

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._pending: psycopg.Cursor[Any] | None = None
        self._value: datetime | None = None

    @property
    def known(self) -> bool:
        return self._value is not None or self._pending is not None

    def expect(self, cursor: psycopg.Cursor[Any]) -> None:
        """``cursor`` (queued) will return the time as its first column."""
        if not self.known:
            self._pending = cursor

    def set(self, value: datetime) -> None:
        if self._value is None:
            self._value = value
            self._pending = None

    def __call__(self) -> datetime:
        if self._value is None:
            cursor = self._pending or self._conn.execute("SELECT clock_timestamp()")
            row = cursor.fetchone()
            assert row is not None
            self._value = row[0]
            self._pending = None
        return self._value


IntegrityError = pg_errors.IntegrityError
UniqueViolation = pg_errors.UniqueViolation
