"""PostgreSQL as np's shared backend (``NP_DB=postgresql://…``).

This package's ``__init__`` imports nothing: the SQLite path asks only :func:`is_pg_url`.
psycopg is imported by ``store.pg.conn`` (and the modules that use it), in PostgreSQL mode
only. Modules: ``url`` (recognise and redact URLs), ``conn`` (connections, transactions,
errors), ``schema`` (migrations), ``store`` (``PgStore``), ``unit`` (``PgUnitOfWork``),
``feed`` (``PgChangeFeed``), ``ops`` (migrate, copy, doctor, backup).
"""

SCHEMES = ("postgresql://", "postgres://")


def is_pg_url(text: str) -> bool:
    """Whether ``text`` (an ``NP_DB`` or ``--db`` value) names a PostgreSQL database."""
    return text[:13].lower().startswith(SCHEMES)


SCOPE_MAX = 200


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
        from ..errors import InvalidArgument

        raise InvalidArgument(
            f"NP_SCOPE needs a name of 1 to {SCOPE_MAX} printable UTF-8 characters on one "
            "line, e.g. NP_SCOPE=github.com/acme/shop.",
            field="scope",
        )
    return name


def machine_actor(name: str) -> str:
    """``name@<host name>``: the default actor on PostgreSQL, where machines share a plan
    through one scope, so each machine's agent is told of the others' changes (an actor is
    never told of its own) and the log says which machine acted."""
    import socket

    return f"{name}@{socket.gethostname()}"


def require() -> None:
    """Check that the PostgreSQL driver (psycopg 3, the ``postgres`` extra) is installed;
    called before anything of this package that needs it is imported.

    Raises:
        StorageError: psycopg is missing (``field="db"``, ``cause="driver_missing"``), with a
            sentence on how to install it instead of a traceback.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError:
        from ..errors import StorageError

        raise StorageError(
            "A PostgreSQL database needs the postgres extra (psycopg 3), which is not "
            "installed; install np with it from its checkout: pip install '.[postgres]'.",
            field="db",
            cause="driver_missing",
        ) from None
