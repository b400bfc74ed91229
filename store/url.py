"""PostgreSQL URLs: recognising them, and showing them without secrets.

Imports nothing heavy (no psycopg).
Passwords belong in ``PGPASSWORD``, ``~/.pgpass`` or a libpq service file; a password that
is in the URL anyway is never shown: every message names the server with :func:`label`
or the URL with :func:`redact`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode

_SECRET_KEYS = {"password", "sslpassword", "passfile"}

#: A PostgreSQL URL inside a longer text (a message, a log line, a traceback): up to the
#: next white space or quote, as libpq and psycopg quote it.
_URL_IN_TEXT = re.compile(r"postgres(?:ql)?://[^\s\"'`]*", re.IGNORECASE)


def _split(url: str) -> tuple[str, str | None, str, str, str]:
    """``(scheme, userinfo or None, hosts, path, query)`` of ``url`` by plain string
    splitting, which never raises (a malformed URL, e.g. an unclosed ``[``, still splits).
    The user part ends at the last ``@`` before the query, so a password holding an
    unescaped ``/`` or ``@`` is still taken as the password."""
    scheme, _, rest = url.partition("://")
    head, _, query = rest.partition("?")
    query = query.partition("#")[0]
    userinfo: str | None = None
    if "@" in head:
        userinfo, _, head = head.rpartition("@")
    hosts, _, path = head.partition("/")
    return scheme, userinfo, hosts, path, query


def redact(url: str) -> str:
    """``url`` with any password (in the user part or the query) replaced by ``***``.

    Never raises, whatever ``url`` holds (a URL np cannot parse is still masked)."""
    scheme, userinfo, hosts, path, query = _split(url)
    netloc = hosts
    if userinfo is not None:
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:***@{hosts}" if sep else f"{user}@{hosts}"
    pairs = [
        (key, "***" if key.lower() in _SECRET_KEYS else value)
        for key, value in parse_qsl(query, keep_blank_values=True)
    ]
    text = f"{scheme}://{netloc}/{path}"
    return f"{text}?{urlencode(pairs, safe='/*')}" if pairs else text


def redact_text(text: str) -> str:
    """``text`` (a message, log line or traceback) with every PostgreSQL URL in it passed
    through :func:`redact`."""
    return _URL_IN_TEXT.sub(lambda m: redact(m.group(0)), text)


def label(url: str) -> str:
    """The server and database of ``url`` for messages: ``host:port/dbname``, no user or
    password (a Unix socket folder shows as its path). Never raises."""
    _scheme, _userinfo, hosts, path, query_text = _split(url)
    query = dict(parse_qsl(query_text, keep_blank_values=True))
    host = unquote(hosts) or query.get("host", "") or "localhost"
    if query.get("port") and ":" not in host:
        host = f"{host}:{query['port']}"
    dbname = unquote(path) or query.get("dbname", "")
    return f"{host}/{dbname}" if dbname else host


def shown(location: str) -> str:
    """A database as messages show it: a URL's server and database (:func:`label`), or
    the file path."""
    from .settings import is_shared

    return label(location) if is_shared(location) else location
