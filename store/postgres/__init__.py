"""The PostgreSQL engine: np's shared backend (``NP_DB=postgresql://…``).

Importing this package checks that psycopg 3 (the ``postgres`` extra) is installed, and
says how to install it when it is not: :func:`store.engine.engine_for` imports it only for
a PostgreSQL URL, so the SQLite path never needs the driver. Modules: ``conn``
(connections, transactions, errors), ``schema`` (migrations), ``engine``
(:class:`~store.postgres.engine.PgDatabase`, registered as the ``postgresql`` engine),
``unit`` (the unit of work's row locks and prefetch), ``feed`` (LISTEN/NOTIFY), ``ops``
(doctor, backup). Never imports ``store.sqlite``.
"""


def require() -> None:
    """Check that the PostgreSQL driver (psycopg 3, the ``postgres`` extra) is installed.

    Raises:
        StorageError: psycopg is missing (``field="db"``, ``cause="driver_missing"``), with a
            sentence on how to install it instead of a traceback.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError:
        from ..errors import StorageError
        from ..install import install_hint

        raise StorageError(
            "A PostgreSQL database needs the postgres extra (psycopg 3), which is not "
            f"installed; install it: {install_hint('postgres')}.",
            field="db",
            cause="driver_missing",
        ) from None


require()
