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
