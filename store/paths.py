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


def default_db_path() -> str:
    """``$NP_DB``, else ``$XDG_DATA_HOME/np/np.db``, else ``~/.local/share/np/np.db``."""
    env = os.environ.get("NP_DB")
    if env:
        return env
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "np", "np.db")
