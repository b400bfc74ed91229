"""What np's maintenance verbs return, on either engine: the findings of ``np doctor``
(:class:`Report` of :class:`Check` s) and what ``np backup`` wrote (:class:`BackupResult`),
plus the file handling every backup shares. Imports no engine."""

from __future__ import annotations

import enum
import os
from datetime import UTC, datetime
from typing import Any

import attrs

from ..errors import InvalidArgument
from ..outputs import check_output
from ..text import printable


class CheckStatus(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


OK, WARN, FAIL = CheckStatus.OK, CheckStatus.WARN, CheckStatus.FAIL


@attrs.frozen
class Check:
    """One finding of ``np doctor``.

    Attributes:
        name: ``database``, ``schema``, ``integrity``, ``consistency``, ``sessions``,
            ``wal``, ``permissions`` or ``write_lock``.
        status: ok, warn or fail.
        message: one sentence for a person.
        data: the facts behind it (sizes in bytes, modes as octal text, timeouts in s).
    """

    name: str
    status: CheckStatus
    message: str
    data: dict[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class Report:
    """Every check of one database, in the order they ran."""

    path: str
    checks: tuple[Check, ...]

    @property
    def healthy(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == WARN]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": printable(self.path),  # as np shows paths: a non-UTF-8 byte as \xNN
            "healthy": self.healthy,
            "problems": [c.name for c in self.problems],
            "warnings": [c.name for c in self.warnings],
            "checks": [c.to_dict() for c in self.checks],
        }


@attrs.frozen
class BackupResult:
    """What one backup wrote.

    Attributes:
        source: the database that was copied.
        path: the new file.
        size: its size in bytes.
        seconds: wall time of the whole backup.
        schema_version: the copy's ``user_version``.
        integrity: ``"ok"`` (a copy that fails the check is never kept).
        counts: rows per table (:func:`~store.sqlite.probes.counts`); empty for an
            older schema.
    """

    source: str
    path: str
    size: int
    seconds: float
    schema_version: int
    integrity: str
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON: paths as np shows them (a byte that is not UTF-8 as ``\\xNN``)."""
        return {
            **attrs.asdict(self),
            "source": printable(self.source),
            "path": printable(self.path),
            "seconds": round(self.seconds, 4),
        }


def backup_target(dest: str, source: str | None = None, now: datetime | None = None) -> str:
    """Where a backup of ``source`` to ``dest`` goes: ``dest`` itself, or inside it when it
    is a folder (``np-backup-YYYYmmddTHHMMSSffffffZ.db``). An existing file is never a
    target, nor a name of ``source``'s or another database's files, nor a link to them
    (``store.outputs``).

    Raises:
        InvalidArgument: ``dest`` exists as a file, or is a database's file or a link to
            one (``cause="database_file"``), or its folder does not exist (``data``:
            ``field="path"``).
    """
    if os.path.isdir(dest):
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
        return os.path.join(dest, f"np-backup-{stamp}.db")
    if os.path.lexists(dest) and os.path.exists(dest):
        raise InvalidArgument(
            "The backup file already exists and np never overwrites it; remove it first, "
            "choose a new name, or give a folder to get a time-stamped file.",
            field="path",
        )
    check_output(dest, source, what="a backup")
    if os.path.lexists(dest):  # a link to nothing: writing through it would create its target
        raise InvalidArgument(
            "The backup path is a link to a file that does not exist; np never writes "
            "through it. Choose a new name, or give a folder to get a time-stamped file.",
            field="path",
        )
    folder = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(folder):
        raise InvalidArgument(
            "The backup's folder does not exist; create it first or choose another path.",
            field="path",
        )
    return dest


def link_into_place(tmp: str, target: str) -> None:
    """Give the finished copy ``tmp`` its name ``target``, never over an existing file."""
    try:
        os.link(tmp, target)  # atomic, and refuses to replace an existing file
    except FileExistsError:
        raise InvalidArgument(
            "The backup file appeared while np was writing it; nothing was overwritten.",
            field="path",
        ) from None
    except OSError:  # a filesystem without hard links
        if os.path.lexists(target):
            raise InvalidArgument(
                "The backup file already exists and np never overwrites it.", field="path"
            ) from None
        os.rename(tmp, target)


__all__ = [
    "FAIL",
    "OK",
    "WARN",
    "BackupResult",
    "Check",
    "CheckStatus",
    "Report",
    "backup_target",
    "link_into_place",
]
