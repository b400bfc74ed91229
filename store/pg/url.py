"""PostgreSQL URLs: recognising them, and showing them without secrets.

Imports nothing heavy (no psycopg).
Passwords belong in ``PGPASSWORD``, ``~/.pgpass`` or a libpq service file; a password that
is in the URL anyway is never shown: every message names the server with :func:`label`
or the URL with :func:`redact`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

_SECRET_KEYS = {"password", "sslpassword", "passfile"}


def redact(url: str) -> str:
    """``url`` with any password (in the user part or the query) replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:***@{hosts}" if sep else f"{user}@{hosts}"
    query = [
        (key, "***" if key.lower() in _SECRET_KEYS else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="/"), ""))


def label(url: str) -> str:
    """The server and database of ``url`` for messages: ``host:port/dbname``, no user or
    password (a Unix socket folder shows as its path)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    hosts = parts.netloc.rpartition("@")[2]
    host = unquote(hosts) or query.get("host", "") or "localhost"
    if query.get("port") and ":" not in host:
        host = f"{host}:{query['port']}"
    dbname = unquote(parts.path.lstrip("/")) or query.get("dbname", "")
    return f"{host}/{dbname}" if dbname else host
