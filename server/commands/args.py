"""Explicit validation of a command's one JSON-object argument.

Every front door hands the command table the same shape; this checks types and names the
offending field, so a wrong shape is ``invalid_argument`` and never a crash. Content rules
(lengths, blank titles, reasons) are the store's.
"""

from __future__ import annotations

import os
from typing import Any

from store import InvalidArgument
from store.paths import expand_home
from store.text import describe_char, first_ill_formed, is_blank, printable

DIR_MAX = 4096
# The largest whole number a field takes: the largest every JSON client holds exactly
# (JavaScript's Number.MAX_SAFE_INTEGER), well within SQLite's integers; a limit above the
# number of rows is simply "all".
INTEGER_MAX = 2**53 - 1
# Fields whose text the store checks itself, naming the character (store.limits), and the
# directory, whose bytes may legitimately be no UTF-8 (a path from argv).
_STORE_CHECKED = frozenset({"title", "description", "reason", "dir"})


def _well_formed(value: str, key: str) -> str:
    """``value``, unless it holds a lone surrogate (a byte that is not UTF-8, or half a
    JSON surrogate pair): then ``invalid_argument`` naming the field and the character."""
    if key not in _STORE_CHECKED:
        bad = first_ill_formed(value)
        if bad is not None:
            raise InvalidArgument(
                f"The field {key!r} is not valid text: it holds {describe_char(value[bad])}.",
                field=key,
            )
    return value


class Args:
    def __init__(self, raw: object, allowed: frozenset[str]) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise InvalidArgument(
                "The command takes one JSON object as its argument, for example "
                '{"dir": "/path/to/project"}.',
                field="arguments",
            )
        for key in raw:
            if not isinstance(key, str) or key not in allowed:
                names = ", ".join(sorted(allowed)) or "none"
                raise InvalidArgument(
                    f"Unknown field {str(key)[:40]!r}; this command takes: {names}.",
                    field=str(key)[:40],
                )
        self.raw: dict[str, Any] = raw

    def __contains__(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise InvalidArgument(f"The {key} is required.", field=key, required=True)
            return None
        if not isinstance(value, str):
            raise InvalidArgument(f"The field {key!r} must be a string.", field=key)
        return _well_formed(value, key)

    def required_text(self, key: str) -> str:
        value = self.text(key, required=True)
        assert value is not None
        return value

    def integer(self, key: str, *, minimum: int = 0, maximum: int = INTEGER_MAX) -> int | None:
        """The whole number in ``key`` (None when absent), within ``minimum``..``maximum``
        (default: :data:`INTEGER_MAX`); else ``InvalidArgument`` naming the field and
        the range, never an overflow deeper down."""
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise InvalidArgument(
                f"The field {key!r} must be a whole number from {minimum} to {maximum}.",
                field=key,
                minimum=minimum,
                maximum=maximum,
            )
        return value

    def flag(self, key: str) -> bool:
        value = self.raw.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise InvalidArgument(f"The field {key!r} must be true or false.", field=key)
        return value

    def objects(self, key: str) -> list[dict[str, Any]]:
        value = self.raw.get(key)
        if not isinstance(value, list):
            raise InvalidArgument(f"The field {key!r} must be a list of objects.", field=key)
        for n, item in enumerate(value, 1):
            if not isinstance(item, dict):
                raise InvalidArgument(
                    f"Item {n} of {key!r} must be an object.", field=f"{key}[{n - 1}]"
                )
        return value

    def strings(self, key: str) -> list[str]:
        """A list of strings; a single string is taken as a list of one."""
        value = self.raw.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidArgument(f"The field {key!r} must be a list of strings.", field=key)
        return [_well_formed(v, key) for v in value]

    def directory(self, default: str | None) -> str:
        """The directory to act in: the ``dir`` field, else ``default`` (the front door's
        own: its working directory or workspace folder).

        Raises:
            InvalidArgument: (``field="dir"``) no directory at all, or one that is no usable
                path; a ``dir`` given in the arguments that is relative, does not exist or
                is not a directory (never the project of a parent folder instead).
        """
        given = self.text("dir")
        value = default if given is None else given
        if value is None or is_blank(value):
            raise InvalidArgument(
                'No directory to act in: pass "dir" or open a workspace folder.', field="dir"
            )
        if len(value) > DIR_MAX:
            raise InvalidArgument(
                f"The directory's path is {len(value):,} characters long; np plans in folders "
                f"of at most {DIR_MAX:,}. Use a folder with a shorter path.",
                field="dir",
            )
        control = next((ch for ch in value if ch < " "), None)
        if control is not None:  # it could not be shown on one line, nor told apart
            raise InvalidArgument(
                f"The directory {printable(value[:200])!r} holds a control character "
                f"({describe_char(control)} at character {value.index(control) + 1}), and np "
                "does not plan in such a folder; rename it, or work in another folder.",
                field="dir",
            )
        try:  # a byte that is not UTF-8 came from the OS (PEP 383) and is a real path
            os.fsencode(value)
        except UnicodeEncodeError:
            raise InvalidArgument(
                f"The directory is not a usable path: {printable(value[:200])} holds half "
                "of a surrogate pair.",
                field="dir",
            ) from None
        if given is not None:
            check_directory(value)
        return value


def check_directory(path: str) -> None:
    """``path`` (a ``dir`` a caller gave) is absolute (``~`` at its start is the home
    folder), exists and is a directory; else ``InvalidArgument`` (``field="dir"``, with
    ``dir`` the path as shown), in the words the CLI's ``-C`` uses."""
    full = expand_home(path)
    shown = printable(path[:200])
    if not os.path.isabs(full):
        message = f"{shown} is a relative path; give the project's absolute path."
    elif not os.path.exists(full):
        message = f"{shown}: no such directory; give an existing one."
    elif not os.path.isdir(full):
        message = f"{shown}: that path is a file, not a directory."
    else:
        return
    raise InvalidArgument(message, field="dir", dir=shown)


def task_id(value: str, field: str = "id", where: str | None = None) -> str:
    """A task id as the store keys it (trimmed, lower case); a blank one is refused here,
    with its own sentence, rather than looked up as "No task with id  …"."""
    if is_blank(value):
        place = f" in {where}" if where else ""
        raise InvalidArgument(f"A task id{place} is empty; name a task.", field=field)
    return value.strip().lower()


def session_id(value: str | None) -> str | None:
    """The ``sid`` of a request (None when absent); a blank one is refused, never taken as
    "no session given"."""
    if value is not None and is_blank(value):
        raise InvalidArgument("The session id is empty; name a session.", field="sid")
    return value


def item_text(item: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = item.get(key)
    if value is None:
        if required:
            raise InvalidArgument(f"{where} needs a {key!r}.", field=key, required=True)
        return None
    if not isinstance(value, str):
        raise InvalidArgument(f"The {key!r} of {where} must be a string.", field=key)
    return _well_formed(value, key)


def check_item_keys(item: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in item:
        if key not in allowed:
            names = ", ".join(sorted(allowed))
            raise InvalidArgument(
                f"Unknown field {str(key)[:40]!r} in {where}; it takes: {names}.",
                field=str(key)[:40],
            )
