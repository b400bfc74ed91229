"""Where things are: canonical directories, the parent walk, the default database."""

from __future__ import annotations

import os
import re


def home_folder() -> str | None:
    """This user's home folder: ``$HOME`` — an empty one counts as unset, as every
    variable np reads does — else the password entry's; None when there is neither, or
    ``$HOME`` is a relative path (unusable: np says so rather than guess)."""
    env = os.environ.get("HOME")
    if env:
        return env if os.path.isabs(env) else None
    try:
        import pwd

        entry = pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError, OSError):
        return None
    return entry if entry and os.path.isabs(entry) else None


def expand_home(path: str) -> str:
    """``os.path.expanduser`` with an empty ``$HOME`` taken as unset: ``~/x`` is never
    ``/x`` (Python expands ``~`` with ``HOME=""`` to the root folder). ``~`` stays as it is
    when there is no home folder at all; ``~user`` is that user's home, as before."""
    if not path.startswith("~"):
        return path
    end = path.find(os.sep, 1)
    if end < 0:
        end = len(path)
    if end > 1:  # ~user
        return os.path.expanduser(path)
    home = home_folder()
    if home is None:
        return path
    return home.rstrip(os.sep) + path[end:] or os.sep


def canonical_dir(path: str) -> str:
    """Absolute path with every symlink resolved (the session key)."""
    return os.path.realpath(os.path.abspath(expand_home(path)))


def dir_key(path: str) -> str:
    """How a directory is stored, compared and shown (``sessions.dir``): its path, with
    each byte that is not UTF-8 written ``\\xNN`` and each backslash written ``\\\\``, so
    the form is injective: a folder named ``u<0xFF>`` (``u\\xff``) and a folder literally
    named ``u\\xff`` (``u\\\\xff``) never share a key. A path without a backslash or such a
    byte (nearly every path) is its own key, as before. :func:`dir_path` is the inverse."""
    if "\\" not in path and path.isascii():
        return path
    from .text import is_surrogate

    out = []
    for ch in path:
        if ch == "\\":
            out.append("\\\\")
        elif "\udc80" <= ch <= "\udcff":
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif is_surrogate(ch):  # cannot come from the file system; kept well-formed
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


_HEX = frozenset("0123456789abcdef")


def dir_path(key: str) -> str:
    """The path a :func:`dir_key` names (each ``\\xNN`` the byte it stands for, as Python
    holds it: PEP 383). A backslash that starts no escape is kept as it is: keys written
    before backslashes were escaped still name their folder when it had no
    ``\\\\`` or ``\\xNN`` of its own."""
    if "\\" not in key:
        return key
    out = []
    i, n = 0, len(key)
    while i < n:
        ch = key[i]
        if ch == "\\" and i + 1 < n:
            nxt = key[i + 1]
            if nxt == "\\":
                out.append("\\")
                i += 2
                continue
            hexed = key[i + 2 : i + 4]
            if nxt == "x" and len(hexed) == 2 and set(hexed) <= _HEX and int(hexed, 16) >= 0x80:
                out.append(chr(0xDC00 + int(hexed, 16)))
                i += 4
                continue
            hexed = key[i + 2 : i + 6]
            if nxt == "u" and len(hexed) == 4 and set(hexed) <= _HEX:
                out.append(chr(int(hexed, 16)))
                i += 6
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def ancestors(path: str) -> list[str]:
    """``path`` and each parent up to the root, nearest first."""
    out = [path]
    while True:
        parent = os.path.dirname(out[-1])
        if parent == out[-1]:
            return out
        out.append(parent)


def _homes() -> list[str]:
    """This user's home folders: ``$HOME`` (when absolute) and the password entry's."""
    homes = [home_folder()]
    try:
        import pwd

        homes.append(pwd.getpwuid(os.getuid()).pw_dir)
    except (ImportError, KeyError, OSError):
        pass
    return [h for h in homes if h and os.path.isabs(h)]


#: The folders that hold the users' home folders on Linux and macOS.
_HOMES_FOLDERS = ("/home", "/Users")


def broad_folders() -> frozenset[str]:
    """The folders that hold every project, canonical: the root ``/``, the folders of the
    users' homes (``/home``, ``/Users``), this user's home folder (``$HOME`` and the
    password entry's) and each folder above it. A plan there would be every project's.

    Worked out once per ``$HOME`` and user in a process (every lookup of a folder's plan
    asks, and the password entry is a file read): a long-running door that sees its
    user's home folder moved or re-linked under it goes on with the old one until it
    restarts."""
    key = (os.environ.get("HOME"), os.getuid())
    found = _BROAD.get(key)
    if found is None:
        out = {os.path.sep, *_HOMES_FOLDERS}
        for home in _homes():
            out.update(ancestors(canonical_dir(home)))
        found = _BROAD[key] = frozenset(out)
    return found


_BROAD: dict[tuple[str | None, int], frozenset[str]] = {}


def holds_every_project(path: str) -> bool:
    """Whether ``path`` (any spelling; links resolved) is one of :func:`broad_folders`."""
    return canonical_dir(path) in broad_folders()


def logical_cwd() -> str | None:
    """Where the user (or the host that started np) stands: the shell's logical ``$PWD``
    (symlinks as they were walked through) when it names this very directory, else the
    physical working directory; None when it no longer exists."""
    try:
        here = os.getcwd()
    except OSError:
        return None
    logical = os.environ.get("PWD")
    if logical and os.path.isabs(logical) and logical != here:
        try:
            if os.path.samefile(logical, here):
                return logical
        except (OSError, ValueError):
            pass
    return here


def working_folder(cwd: str | None) -> str | None:
    """A long-running door's fallback folder for requests that name none: its working
    directory, unless that is no project's (``/``, the home folder, a folder above it:
    where editors and agent hosts start servers) — then None, and each request must name
    its folder."""
    if not cwd or holds_every_project(cwd):
        return None
    return cwd


def _env(name: str) -> str | None:
    """An environment variable, with empty (or blank) taken as unset (as the XDG spec says)."""
    value = os.environ.get(name)
    return value if value and value.strip() else None


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
        home = home_folder()
        if home is None:
            from .errors import InvalidArgument

            raise InvalidArgument(
                "np cannot tell where to keep its database: there is no home folder (HOME "
                "is unset or not an absolute path) and neither NP_DB nor an absolute "
                "XDG_DATA_HOME is set.",
                field="db",
            )
        base = os.path.join(home, ".local", "share")
    return os.path.join(base, "np", "np.db")


#: A libpq ``key=value`` connection string (``host=… dbname=…``): a known libpq keyword,
#: optional blanks, ``=``, at the start (a file name never reads like that by accident).
#: Compiled only for a value holding ``=`` (compiling it costs every CLI run ~1 %).
_CONNINFO = (
    r"\s*(host|hostaddr|port|dbname|user|password|passfile|service|sslmode|options|"
    r"application_name|connect_timeout|target_session_attrs|sslrootcert|sslcert|sslkey)"
    r"\s*="
)


def _url_scheme(value: str) -> str | None:
    """The scheme of a value that reads like a URL (``name:`` at its start, ``name`` two or
    more letters, digits, ``+``, ``-`` or ``.``), lower-cased; None for a plain path."""
    head, sep, _ = value.partition(":")
    if not sep or len(head) < 2 or not head[0].isascii() or not head[0].isalpha():
        return None
    if all(c.isascii() and (c.isalnum() or c in "+-.") for c in head):
        return head.lower()
    return None


def _not_a_database_url(value: str, scheme: str) -> str:
    """Why ``value`` (whose scheme is ``scheme``) names no database np can open, and the fix.
    A mistyped URL must never become a file of that name in the working directory, where
    the plans it receives would be lost to everyone reading the real database."""
    if scheme in ("postgresql", "postgres"):
        return (
            f"The database URL must start with {scheme}:// (two slashes), as in "
            "postgresql://user@host/dbname; nothing was written."
        )
    if scheme.startswith("sqlite"):
        rest = value.split(":", 1)[1].lstrip("/")
        return (
            f"np takes a SQLite database as its file path (/{rest}), not a {scheme}: URL; "
            "nothing was written."
        )
    return (
        f"The database value starts like a {scheme}: URL, which np cannot open: give a file "
        "path, a file: URI or a postgresql:// URL (a file whose name has a colon: ./NAME); "
        "nothing was written."
    )


def db_location(value: str) -> str:
    """The database a ``--db``/``NP_DB`` value names: a file as an absolute path, a URL as is.

    A path is a path: ``~`` at its start is expanded, a relative one is taken from the
    working directory. A ``file:`` URI (RFC 8089: ``file:///abs/np.db``, ``file:/abs/np.db``,
    ``file://localhost/abs/np.db``, percent-escapes decoded) names the same file as its path.
    ``:memory:`` stays an in-memory database.

    Raises:
        InvalidArgument: empty or blank; a URL of another scheme (``sqlite:``,
            ``postgresql:`` without ``//``, ``mysql://``…: never a file of that name); a
            URI with a query or fragment (SQLite options such as
            ``?mode=ro`` are not taken: np owns how it opens its file), another host, or a
            relative path; a path holding a NUL; a libpq ``key=value`` connection string
            (taken as a file name it would put its password in the folder) (``field="db"``).
    """
    from .errors import InvalidArgument

    if value == ":memory:":
        return value
    from .settings import is_shared

    if is_shared(value):  # PostgreSQL: a URL, not a file (store.postgres)
        return value
    # Never a file named after a connection string (it would put its password in the folder).
    if "=" in value and re.match(_CONNINFO, value, re.IGNORECASE):
        raise InvalidArgument(
            "The database value looks like a libpq key=value connection string; np takes "
            "PostgreSQL as a postgresql:// URL (or postgresql:///?service=NAME).",
            field="db",
        )
    if not value.strip():
        raise InvalidArgument("The database path is empty; give a file path.", field="db")
    scheme = _url_scheme(value)
    if scheme is not None and scheme != "file":
        raise InvalidArgument(_not_a_database_url(value, scheme), field="db")
    if value.startswith("file:"):
        value = _file_uri_path(value)
    if "\0" in value:
        raise InvalidArgument("The database path holds a NUL character.", field="db")
    return os.path.abspath(expand_home(value))


def missing_file(location: str) -> bool:
    """Whether ``location`` (from :func:`db_location`) names a database file that does not
    exist yet (never true of a URL or ``:memory:``)."""
    from .settings import is_shared

    return location != ":memory:" and not is_shared(location) and not os.path.lexists(location)


def _file_uri_path(uri: str) -> str:
    from urllib.parse import unquote_to_bytes, urlsplit

    from .errors import InvalidArgument

    try:
        parts = urlsplit(uri)
    except ValueError:  # e.g. an unclosed [ in the host part
        raise InvalidArgument(
            "The database URI cannot be parsed; give the file's path.", field="db"
        ) from None
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


def main_worktree(directory: str) -> str | None:
    """The main working tree of the git repository whose *linked* worktree holds
    ``directory`` (at it or above), or None (not in a linked worktree). Read from git's own
    files, without running git: a linked worktree's ``.git`` is a file ``gitdir: <main>/.git/
    worktrees/<name>``, whose ``commondir`` names the main ``.git``."""
    here = os.path.abspath(directory)
    while True:
        marker = os.path.join(here, ".git")
        if os.path.isdir(marker):
            return None  # a main worktree (or a plain clone): nothing to join
        if os.path.isfile(marker):
            try:
                with open(marker, encoding="utf-8") as fh:
                    line = fh.readline().strip()
                if not line.startswith("gitdir:"):
                    return None
                gitdir = os.path.join(here, line.removeprefix("gitdir:").strip())
                with open(os.path.join(gitdir, "commondir"), encoding="utf-8") as fh:
                    common = os.path.normpath(os.path.join(gitdir, fh.readline().strip()))
            except (OSError, UnicodeDecodeError):
                return None
            return os.path.dirname(common) if os.path.basename(common) == ".git" else None
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def make_private_folders(folder: str) -> None:
    """Create ``folder`` and every missing folder above it, each 0700 (``os.makedirs``
    gives the parents the umask's mode, 0755 as a rule)."""
    missing: list[str] = []
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for level in reversed(missing):
        try:
            os.mkdir(level, 0o700)
        except FileExistsError:
            pass
