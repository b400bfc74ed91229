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
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import ClassVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.abc import ConnDict
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow
from psycopg.types.string import TextLoader

from ..engine import Params, Row
from ..errors import NpError, StorageBusy, StorageError, WriteConflict
from ..settings import busy_timeout, timeout_ms
from ..url import label

CONNECT_TIMEOUT = 5  # seconds, unless the URL says otherwise
IDLE_IN_TRANSACTION_TIMEOUT = 30  # seconds: a client that vanished mid-read frees its snapshot
# A unit of work holds its session's row lock from its first round trip to its COMMIT, the
# next: a client whose link drops (or that is stopped) in between is cut off by the server
# after this long idle, and the lock goes to the next writer, who waits for it at most
# NP_BUSY_TIMEOUT (5 s by default). README, "Sharing plans across machines".
UNIT_IDLE_TIMEOUT = 2
NOTIFY_CHANNEL = "np_changes"

# SQLSTATEs a unit may meet when another writer holds on: lock_not_available (lock_timeout),
# deadlock_detected, serialization_failure, query_canceled (statement_timeout).
BUSY_STATES = {"55P03", "40P01", "40001", "57014"}


class ConnectionLost(StorageError):
    """The connection broke before any ``COMMIT`` was sent: nothing of the request can
    have been written, so a long-running door may reconnect and run it once more
    (``retry_safe``; see ``server.commands.runner``)."""

    retry_safe: ClassVar[bool] = True


def connect(
    url: str,
    *,
    timeout: float | None = None,
    application: str = "np",
    check: Callable[[int], None] | None = None,
) -> PgConnection:
    """Open ``url`` in autocommit mode (np owns every ``BEGIN``).

    ``timeout`` is how long a statement waits for a lock, in seconds (default
    ``$NP_BUSY_TIMEOUT``, else 5): it becomes ``lock_timeout``. The startup packet also sets
    ``idle_in_transaction_session_timeout`` and, unless the URL has one, a 5 s
    ``connect_timeout``, so no setting costs a round trip.

    Raises :class:`~store.errors.StorageError` (unreachable, login refused, no such
    database) with the server named but never the password.
    """
    try:
        params: ConnDict = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise StorageError(
            "The PostgreSQL URL cannot be parsed; check its spelling.", server=label(url)
        ) from None
    options = str(params.pop("options", "") or "")
    options += "".join(f" -c {name}={value}" for name, value in session_settings(timeout).items())
    params.setdefault("connect_timeout", CONNECT_TIMEOUT)
    params.setdefault("application_name", application)
    params["options"] = options.strip()
    try:
        raw = psycopg.connect(make_conninfo("", **params), autocommit=True)
    except psycopg.Error as exc:
        raise connect_error(exc, url) from None
    # No automatic prepared statements: a pipeline whose transaction a conflict aborted
    # skips its PREPAREs, and psycopg would then name statements the server never kept.
    raw.prepare_threshold = None
    # JSON columns come back as the exact text np wrote (rows.event parses it, as on SQLite).
    raw.adapters.register_loader("json", TextLoader)
    return PgConnection(raw, url, timeout, check)


def session_settings(timeout: float | None = None) -> dict[str, str]:
    """The settings np gives each connection in its startup packet (``pg_settings`` names
    and values): a pooler that ignores startup options drops them, and ``np doctor`` says
    so. ``timeout`` as for :func:`connect`."""
    # PostgreSQL reads lock_timeout=0 as "wait forever"; np's 0 means "do not wait": the
    # shortest wait PostgreSQL keeps, one millisecond (NP_BUSY_TIMEOUT means the same on
    # both engines).
    lock_ms = max(1, timeout_ms(busy_timeout() if timeout is None else timeout))
    return {
        "lock_timeout": str(lock_ms),
        "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_TIMEOUT * 1000),
        "TimeZone": "UTC",
    }


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
        params: ConnDict = conninfo_to_dict(url)
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
    # libpq refused a parameter's value before connecting: the URL, not the network
    bad_value = re.search(r'for connection option "(\w+)"', str(exc)) or re.search(
        r"invalid (\w+) value", str(exc)
    )
    if bad_value is not None:
        option = bad_value.group(1)
        return StorageError(
            f"The PostgreSQL URL's {option} is not valid ({_libpq_reason(exc)}); check its "
            "value (libpq's documentation lists the values each parameter takes).",
            field="db",
            server=where,
            cause="bad_url",
            parameters=[option],
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
    tls = _tls_failure(detail)
    if tls:  # something answered, and TLS failed: not a network it cannot reach
        direct = str(params.get("sslnegotiation", "")).lower() == "direct"
        return StorageError(
            f"The TLS handshake with the PostgreSQL server at {where} failed ({tls}); "
            + (
                "sslnegotiation=direct needs PostgreSQL 17 or later on the server: remove it "
                "from the URL for an older server."
                if direct
                else "check sslmode and sslrootcert in the URL and the server's certificate."
            ),
            field="db",
            server=where,
            cause="tls_direct_refused" if direct else "tls",
        )
    if "FATAL:" in detail:  # the server answered and refused: not a network problem
        reason = detail.split("FATAL:", 1)[1].strip().splitlines()[0]
        if "unsupported startup parameter" in reason:  # PgBouncer's refusal of np's settings
            return StorageError(
                f"The connection pooler at {where} refused np's connection settings "
                f"({reason}); in pgbouncer.ini set ignore_startup_parameters = options and "
                "give the login role np's settings (np doctor names them).",
                field="db",
                server=where,
                cause="pooler_options",
            )
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


def _libpq_reason(exc: psycopg.Error) -> str:
    """libpq's sentence without psycopg's "connection is bad: " prefix."""
    return str(exc).removeprefix("connection is bad: ").strip().splitlines()[0][:200]


def _tls_failure(detail: str) -> str:
    """libpq's reason when TLS failed after the server was reached ("SSL error: …",
    a refused certificate, a server without TLS), else ``""``."""
    for line in detail.splitlines():
        if "FATAL:" in line:  # the server refused after TLS worked (e.g. no client certificate)
            return ""
        reason = line.rsplit(" failed: ", 1)[-1].strip()
        low = reason.lower()
        if low.startswith("ssl error") or "certificate" in low or "does not support ssl" in low:
            return reason
    return ""


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


class Result:
    """The rows of one statement sent in a pipeline. Reading them first ends the pipeline's
    batch with a ``Sync`` (:meth:`PgConnection.sync`), never a bare flush: while the
    client is away the server is then *idle in transaction*, which its
    ``idle_in_transaction_session_timeout`` bounds (a batch left open is "active", and
    nothing would bound a lock held across a dropped link)."""

    def __init__(self, cursor: psycopg.Cursor[TupleRow], conn: PgConnection) -> None:
        self._cursor = cursor
        self._conn = conn

    def fetchone(self) -> Row | None:
        self._conn.sync()
        return self._cursor.fetchone()

    def fetchall(self) -> list[Row]:
        self._conn.sync()
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())

    def value(self) -> int:
        """The first column of the one row of an aggregate, as an integer."""
        row = self.fetchone()
        assert row is not None
        return int(row[0])


class NoRows(Result):
    """What a held-back write of a unit of work returns: its rows are nobody's."""

    def __init__(self) -> None:
        pass

    def fetchone(self) -> Row | None:
        return None

    def fetchall(self) -> list[Row]:
        return []


WRITES = ("INSERT", "UPDATE", "DELETE")
# What tells a unit's write was overtaken (WriteConflict, retried): the gapless trigger, a
# unique key (the (sid, seq) of events, an idempotency key, the one active session per
# folder), and a refusal sent with the write (store.postgres.unit.CONFLICT_TEXT).
CONFLICT_STATES = {"23505", "22P02"}
GAPLESS_TEXT = "np: event seq must follow"


def is_conflict(exc: psycopg.Error) -> bool:
    state = exc.sqlstate or ""
    text = str(exc)
    if state == "23514":
        return GAPLESS_TEXT in text
    if state == "22P02":
        return "np: write conflict" in text
    return state in CONFLICT_STATES


Key = tuple[str, tuple[object, ...]]
# Where a statement held back in a unit of work sends its rows: nowhere (a write, a lock, a
# condition), the read-back stash (PgConnection.stash), or a list (PgConnection.keep).
WRITE = False
STASH = True
Sink = bool | list[Result]


class PgConnection:
    """A psycopg connection that runs np's SQL (see :func:`placeholders`) and owns its
    transactions. Used from one thread at a time, like ``sqlite3.Connection``."""

    def __init__(
        self,
        raw: psycopg.Connection[TupleRow],
        url: str,
        timeout: float | None = None,
        check: Callable[[int], None] | None = None,
    ) -> None:
        self.raw = raw
        # The server process of this connection (the one a broken connection had: see
        # store.postgres.engine.PgDatabase._landed).
        self.pid = raw.info.backend_pid
        self.url = url
        self._timeout = timeout
        # The schema check (called with the database's schema version): sent with the
        # connection's first statements, so it costs no round trip of its own.
        self._check = check
        self._checking: Result | None = None
        # A unit of work's held-back writes (PgConnection.unit), and the reads sent after
        # them, in order, each with where its rows go (see Sink); None outside a unit.
        self._held: list[tuple[str, tuple[object, ...], Sink]] | None = None
        self._clock: ServerClock | None = None  # the unit of work's, while one runs
        self._prefetched: dict[Key, Result] = {}
        # Rows read just before the last unit's COMMIT, for the read that follows it.
        self._stash: dict[Key, Result] = {}
        self._pipeline: psycopg.Pipeline | None = None
        self._unsynced = False

    def prefetch(self, sql: str, params: Params = ()) -> None:
        """Queue ``sql`` now (in a pipeline: no round trip); the next :meth:`execute` of the
        same statement with the same parameters, in this transaction, gets its rows."""
        self._prefetched[(sql, tuple(params))] = self.execute(sql, params)

    def stash(self, statements: Sequence[tuple[str, Params]]) -> None:
        """Queue ``statements`` at the end of a unit of work, before its ``COMMIT`` (so in
        the same round trip): the read that follows the unit (its read-back), if it asks
        for exactly these, gets their rows without a round trip of its own."""
        if self._held is not None:
            self._held.extend((sql, tuple(p), STASH) for sql, p in statements)
            return
        self._stash = {(sql, tuple(p)): self.execute(sql, p) for sql, p in statements}

    def keep(self, statements: Sequence[tuple[str, Params]]) -> list[Result]:
        """Queue ``statements`` at the end of a unit of work, before its ``COMMIT`` (so in
        the same round trip, seeing the unit's writes): once the unit committed, the list
        returned holds their rows, in order (empty when it did not)."""
        assert self._held is not None, "keep() is for a unit of work"
        kept: list[Result] = []
        self._held.extend((sql, tuple(p), kept) for sql, p in statements)
        return kept

    def queue(self, sql: str, params: Params = ()) -> None:
        """Send ``sql`` with the unit of work's writes, in order (a lock, a notification,
        a condition); outside a unit, now."""
        if self._held is not None:
            self._held.append((sql, tuple(params), WRITE))
        else:
            self.execute(sql, params)

    def execute(self, sql: str, params: Params = ()) -> Result:
        if self._prefetched:
            queued = self._prefetched.pop((sql, tuple(params)), None)
            if queued is not None:
                return queued
        if self._held is not None and sql.lstrip()[:6].upper() in WRITES:
            self._held.append((sql, tuple(params), WRITE))  # sent with the COMMIT
            return NoRows()
        if self._pipeline is None and (self._check is not None or self._clock_wanted()):
            with self.batch():  # the schema check and the unit's clock ride along
                return self.execute(sql, params)
        begin = sql.startswith("BEGIN")  # a BEGIN must come first in its batch
        if not begin:
            self._check_first()
        try:
            cursor = self.raw.execute(placeholders(sql), params)
        except psycopg.Error as exc:
            # In pipeline mode psycopg reads the results that have come back while it
            # queues, so an earlier statement's error (the schema check's, on a database
            # without np's tables) can surface here rather than at the Sync: the schema
            # check's answer still comes first, as in sync().
            self._after_sync(exc)
            raise
        if begin:
            self._check_first()
        if self._pipeline is not None:
            self._unsynced = True
        return Result(cursor, self)

    @contextlib.contextmanager
    def _pipelined(self) -> Iterator[psycopg.Pipeline]:
        """psycopg's pipeline mode, where an error met while statements are queued (psycopg
        reads results as they come; or np's own error made of it) is raised once, after the
        pipeline ended, instead of psycopg logging its exit's error as "ignored" on stderr."""
        met: psycopg.Error | NpError | None = None
        try:
            with self.raw.pipeline() as pipeline:
                try:
                    yield pipeline
                except (psycopg.Error, NpError) as exc:  # NpError: e.g. the schema check's
                    met = exc
        except psycopg.Error as exc:
            raise (met or exc) from None
        if met is not None:
            raise met

    def _clock_wanted(self) -> bool:
        return self._clock is not None and not self._clock.known

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Statements executed in the block are sent together when it ends (one round
        trip): after the connection's schema check when it is still to be made, and before
        the unit of work's clock when it is still to be read (so the time is taken after
        the reads). Their rows are read after the block."""
        if self._pipeline is not None:
            yield
            return
        error: psycopg.Error | None = None
        try:
            with self._pipelined() as pipeline:
                self._pipeline = pipeline
                try:
                    yield
                    if self._clock is not None and not self._clock.known:
                        self._clock.expect(self.execute("SELECT clock_timestamp()"))
                finally:
                    self._pipeline = None
                    self._unsynced = False
        except psycopg.Error as exc:
            error = exc
            raise
        finally:
            self._after_sync(error)

    def _check_first(self) -> None:
        """Before the connection's first statement (in a pipeline): its schema check."""
        if self._check is None or self._checking is not None or self._pipeline is None:
            return
        sql = "SELECT coalesce(max(schema_version), 0) FROM np_meta"
        self._checking = Result(self.raw.execute(sql), self)
        self._unsynced = True

    def _verified(self, version: int) -> None:
        check, self._check = self._check, None
        if check is not None:
            try:
                check(version)
            except BaseException:
                self._check = check  # every use of this connection is refused alike
                raise

    def _after_sync(self, error: psycopg.Error | None) -> None:
        """The schema check's answer, once its batch came back (before any other error of
        that batch: a database without np's tables says so, not "no such table")."""
        checking, self._checking = self._checking, None
        if checking is None:
            return
        if isinstance(error, pg_errors.UndefinedTable) and "np_meta" in str(error):
            self._verified(0)
        if error is None:
            row = checking._cursor.fetchone()
            self._verified(int(row[0]) if row is not None else 0)

    def sync(self) -> None:
        """Send what is queued with a ``Sync`` and receive every result (one round trip);
        nothing when nothing is queued."""
        if self._pipeline is not None and self._unsynced:
            self._unsynced = False
            try:
                self._pipeline.sync()
            except psycopg.Error as exc:
                self._after_sync(exc)
                raise
            self._after_sync(None)

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
            self.raw, self.pid = fresh.raw, fresh.pid

    def _rollback_quietly(self) -> None:
        if self.raw.closed:
            return
        status = self.raw.info.transaction_status
        if status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            with contextlib.suppress(psycopg.Error):
                self.raw.execute("ROLLBACK")

    @contextlib.contextmanager
    def write(self, *, conflicts: bool = False) -> Iterator[ServerClock]:
        """One READ COMMITTED write transaction in pipeline mode: COMMIT on success,
        ROLLBACK on any exception. Yields the unit's :class:`ServerClock`; ``conflicts``:
        an overtaken write raises :class:`WriteConflict` (a unit of work's locked path).

        Locking rule: a unit locks its session row (``SELECT … FOR UPDATE`` or ``UPDATE
        sessions …``) before it reads what it is about to change; READ COMMITTED then shows
        every earlier commit."""
        self.ensure_open()
        committing = False
        self._prefetched.clear()
        self._stash = {}
        try:
            with self._pipelined() as pipeline:
                self._pipeline = pipeline
                self.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                # Queued with the BEGIN: no round trip (see UNIT_IDLE_TIMEOUT).
                self.execute(
                    f"SET LOCAL idle_in_transaction_session_timeout = {UNIT_IDLE_TIMEOUT * 1000}"
                )
                yield ServerClock(self)
                committing = True
                self.execute("COMMIT")
                self._pipeline = None
        except NpError:
            self._rollback_quietly()
            raise
        except psycopg.Error as exc:
            self._stash = {}
            self._rollback_quietly()
            if conflicts and is_conflict(exc):
                raise self._overtaken() from None
            raise storage_error(exc, self.url, committing=committing) from None
        except BaseException:
            self._stash = {}
            self._rollback_quietly()
            raise
        finally:
            self._pipeline = None
            self._unsynced = False
            self._prefetched.clear()

    def _overtaken(self) -> WriteConflict:
        return WriteConflict(
            "Another writer changed this plan at the same moment; nothing was written; try again.",
            field="db",
            server=label(self.url),
        )

    @contextlib.contextmanager
    def unit(self) -> Iterator[ServerClock]:
        """One unit of work (see :mod:`store.postgres.unit`): its reads are sent as it asks
        for them, in a pipeline and outside any transaction (nothing to ``COMMIT``, no lock
        taken); its writes are held back, then sent together with ``BEGIN``, what the
        caller queues (:meth:`queue`, :meth:`stash`) and ``COMMIT``: one round trip, the
        locks held only while the server executes it. Yields the unit's clock.

        Raises:
            WriteConflict: another writer changed what the unit read (nothing written).
            StorageError: as :func:`storage_error` says (``committing`` once the writes
                were sent: they may have landed).
        """
        self.ensure_open()
        committing = False
        self._prefetched.clear()
        self._stash = {}
        self._held = []
        clock = self._clock = ServerClock(self)
        try:
            yield clock
            held, self._held = self._held, None
            self._clock = None
            if any(sink is WRITE for _, _, sink in held):
                stash: dict[Key, Result] = {}
                kept: list[tuple[list[Result], Result]] = []
                committing = True
                with self._pipelined() as pipeline:  # sent with its Sync as the block ends
                    self._pipeline = pipeline
                    self.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                    for sql, params, sink in held:
                        result = self.execute(sql, params)
                        if sink is STASH:
                            stash[(sql, params)] = result
                        elif isinstance(sink, list):
                            kept.append((sink, result))
                    self.execute("COMMIT")
                self._stash = stash
                for sink, result in kept:  # committed: their rows are true
                    sink.append(result)
        except NpError:
            self._stash = {}
            self._rollback_quietly()
            raise
        except psycopg.Error as exc:
            self._stash = {}
            self._rollback_quietly()
            if is_conflict(exc):
                raise self._overtaken() from None
            raise storage_error(exc, self.url, committing=committing) from None
        except BaseException:
            self._stash = {}
            self._rollback_quietly()
            raise
        finally:
            self._held = None
            self._clock = None
            self._pipeline = None
            self._unsynced = False
            self._prefetched.clear()

    @contextlib.contextmanager
    def read(self, queue: Sequence[tuple[str, Params]] = ()) -> Iterator[None]:
        """One consistent snapshot (REPEATABLE READ, READ ONLY); never takes a row lock.
        The statements in ``queue`` are sent with the ``BEGIN`` (see :meth:`prefetch`), so
        a read of several statements waits for the server once, not once per statement."""
        self.ensure_open()
        self._prefetched.clear()
        stash, self._stash = self._stash, {}
        wanted = {(sql, tuple(params)) for sql, params in queue}
        if wanted and wanted <= stash.keys():
            # Read back with the last unit's COMMIT (PgConnection.stash): no round trip.
            self._prefetched = {key: stash[key] for key in wanted}
            try:
                yield
            finally:
                self._prefetched.clear()
            return
        try:
            if queue:
                # Every read of the snapshot is known: BEGIN, the reads and the COMMIT
                # travel together and come back together (one round trip); the rows wait
                # in their cursors. A read the caller adds runs after, on its own.
                with self.batch():
                    self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    for sql, params in queue:
                        self.prefetch(sql, params)
                    self.execute("COMMIT")
                yield
                return
            with self._pipelined() as pipeline:
                self._pipeline = pipeline
                self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield
                self.execute("COMMIT")
                self._pipeline = None
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
            self._pipeline = None
            self._unsynced = False
            self._prefetched.clear()

    @contextlib.contextmanager
    def single(self) -> Iterator[None]:
        """A read of one statement: no ``BEGIN``/``COMMIT`` around it (a statement is its
        own snapshot), so it costs one round trip instead of two."""
        self.ensure_open()
        self._stash = {}
        try:
            yield
        except NpError:
            self._rollback_quietly()
            raise
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

    def __init__(self, conn: PgConnection) -> None:
        self._conn = conn
        self._pending: Result | None = None
        self._value: datetime | None = None

    @property
    def known(self) -> bool:
        return self._value is not None or self._pending is not None

    def expect(self, cursor: Result) -> None:
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
