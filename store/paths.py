"""Where things are: canonical directories, the parent walk, the default database."""

from __future__ import annotations

import os


def canonical_dir(path: str) -> str:
    """Absolute path with every symlink resolved (the session key)."""
    return os.path.realpath(os.path.abspath(os.path.expanduser(path)))


def dir_key(path: str) -> str:
    """How a directory is stored and shown: its path, with each byte that is not UTF-8
    written ``\\xNN`` (:func:`store.text.printable`), so any real directory can hold a
    session and every path np stores or prints is well-formed text."""
    from .text import printable

    return printable(path)


def ancestors(path: str) -> list[str]:
    """``path`` and each parent up to the root, nearest first."""
    out = [path]
    while True:
        parent = os.path.dirname(out[-1])
        if parent == out[-1]:
            return out
        out.append(parent)


def _env(name: str) -> str | None:
    """An environment variable, with empty taken as unset (as the XDG spec says)."""
    value = os.environ.get(name)
    return value or None


def default_db_path() -> str:
    """Where the database is when no ``--db`` is given (every door: CLI, server, monitor).

    ``$NP_DB`` (a path, or a ``file:`` URI; ``~`` expanded, relative to the working
    directory), else ``$XDG_DATA_HOME/np/np.db`` — only when ``XDG_DATA_HOME`` is an
    absolute path: the XDG base directory spec says a relative one is invalid and must be
    ignored — else ``$HOME/.local/share/np/np.db``. An empty variable counts as unset.

    Raises:
        InvalidArgument: no home folder can be found (``HOME`` unset and no password
            entry) and neither ``NP_DB`` nor an absolute ``XDG_DATA_HOME`` is set
            (``field="db"``).
    """
    env = _env("NP_DB")
    if env:
        return env
    base = _env("XDG_DATA_HOME")
    if base is None or not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            from .errors import InvalidArgument

            raise InvalidArgument(
                "np cannot tell where to keep its database: there is no home folder (HOME "
                "is unset or not an absolute path) and neither NP_DB nor an absolute "
                "XDG_DATA_HOME is set.",
                field="db",
            )
        base = os.path.join(home, ".local", "share")
    return os.path.join(base, "np", "np.db")


def db_location(value: str) -> str:
    """The database file a ``--db``/``NP_DB`` value names, as an absolute path.

    A path is a path: ``~`` at its start is expanded, a relative one is taken from the
    working directory. A ``file:`` URI (RFC 8089: ``file:///abs/np.db``, ``file:/abs/np.db``,
    ``file://localhost/abs/np.db``, percent-escapes decoded) names the same file as its path.
    ``:memory:`` stays an in-memory database.

    Raises:
        InvalidArgument: empty; a URI with a query or fragment (SQLite options such as
            ``?mode=ro`` are not taken: np owns how it opens its file), another host, or a
            relative path; a path holding a NUL (``field="db"``).
    """
    from .errors import InvalidArgument

    if value == ":memory:":
        return value
    if not value:
        raise InvalidArgument("The database path is empty; give a file path.", field="db")
    if value.startswith("file:"):
        value = _file_uri_path(value)
    if "\0" in value:
        raise InvalidArgument("The database path holds a NUL character.", field="db")
    return os.path.abspath(os.path.expanduser(value))


def _file_uri_path(uri: str) -> str:
    from urllib.parse import unquote_to_bytes, urlsplit

    from .errors import InvalidArgument

    parts = urlsplit(uri)
    if parts.query or parts.fragment or "?" in uri or "#" in uri:
        raise InvalidArgument(
            "The database URI carries options (after ? or #); np takes no SQLite URI "
            "options. Give the file's path.",
            field="db",
        )
    if parts.netloc not in ("", "localhost"):
        raise InvalidArgument(
            f"The database URI names another host ({parts.netloc}); give a local path.",
            field="db",
        )
    if not parts.path.startswith("/"):
        raise InvalidArgument(
            "The database URI has a relative path; give an absolute file: URI or a path.",
            field="db",
        )
    return os.fsdecode(unquote_to_bytes(parts.path))


def uri_to_path(uri: str) -> str | None:
    """The local path of a ``file:`` URI from a client (a workspace folder, ``rootUri``),
    percent-escapes decoded as the bytes they are — ``%FF`` is the byte 0xFF, not U+FFFD —
    or None when it is no local ``file:`` URI."""
    from urllib.parse import unquote_to_bytes, urlsplit

    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    if not parts.path.startswith("/"):
        return None
    return os.fsdecode(unquote_to_bytes(parts.path))


def file_identity(path: str) -> tuple[int, int] | None:
    """``(st_dev, st_ino)`` of ``path`` (symlinks followed), or None when it is not there."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)
