"""Domain errors. Each carries a stable ``kind`` and protocol ``code`` (SPEC §5).

One voice per front door: the store speaks in neutral sentences. A message is one sentence
for a person or an agent that says what is wrong (and, where the domain has one, what
would be right), naming no front door's syntax: no CLI flag, no ``np …`` shell command, no
JSON field or ``np.*`` command. Each front door appends its own next step (the CLI names
flags and verbs, JSON-RPC names fields and commands, editors name their commands) from
``kind`` and ``data``. Messages never carry stack traces or internal file paths.

``data`` holds the facts a front door needs for that next step. Keys common to all errors:

* ``field`` — the JSON field name involved, where one is (``"reason"``, ``"title"``,
  ``"description"``, ``"id"``, ``"status"``, ``"dir"``, ``"sid"``, ``"tasks"``,
  ``"updates"``, ``"state"``, ``"db"``, ``"path"`` …). ``"db"`` means the database
  location, chosen outside any request (``NP_DB``, a CLI option, the server's start-up).
* ``item`` — the 1-based position in a batch (``tasks``, ``updates``), when one item is at
  fault.

Each class lists the further keys it may carry.
"""

from __future__ import annotations

from typing import Any, ClassVar


class NpError(Exception):
    """Base of every error np reports to a user.

    Attributes:
        kind: stable snake_case name (class attribute).
        code: stable protocol error code (class attribute).
        message: the neutral sentence.
        data: facts for the front door's next step (see the module docstring).
    """

    kind: ClassVar[str] = "error"
    code: ClassVar[int] = 1000

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data: dict[str, Any] = data

    @property
    def field(self) -> str | None:
        """``data["field"]``: the JSON field involved, if any."""
        value = self.data.get("field")
        return value if isinstance(value, str) else None

    def to_dict(self) -> dict[str, Any]:
        """``{code, kind, message, data}``; ``data`` repeats ``kind`` (SPEC §5)."""
        return {
            "code": self.code,
            "kind": self.kind,
            "message": self.message,
            "data": {"kind": self.kind, **self.data},
        }


class NoActiveSession(NpError):
    """No active session where one is needed.

    Data: ``field="dir"`` and ``dir`` (canonical) when nothing is active at a directory
    or its parents; ``field="sid"``, ``sid``, ``dir`` and ``state="archived"`` when the
    session named is archived and can no longer change.
    """

    kind = "no_active_session"
    code = 1001


class SessionAlreadyActive(NpError):
    """A session is already active for the directory a new one was asked for.

    Data: ``field="dir"``, ``dir`` (canonical) and ``session`` (the active session:
    ``sid``, ``dir``, ``state``, ``created_at``, ``last_updated_at``, ``archived_at``).
    """

    kind = "session_already_active"
    code = 1002


class GoalAlreadySet(NpError):
    """The session already has a goal; it may only be changed, with a reason.

    Data: ``sid``.
    """

    kind = "goal_already_set"
    code = 1003


class GoalNotSet(NpError):
    """The session has no goal yet, so there is none to change.

    Data: ``sid``.
    """

    kind = "goal_not_set"
    code = 1004


class TaskNotFound(NpError):
    """No task with the given id(s) in the session.

    Data: ``field="id"``, ``ids`` (the missing ids, in request order), ``sid``.
    """

    kind = "task_not_found"
    code = 1005


class ReasonRequired(NpError):
    """A reason is required for this change and none (or a blank one) was given.

    Data: ``field="reason"``; ``action`` — ``"goal.change"``, ``"task.edit"`` or
    ``"task.status"``; for tasks ``id``; for a status change also ``status`` (the target
    status) and ``item`` (its position among the updates).
    """

    kind = "reason_required"
    code = 1006


class InvalidArgument(NpError):
    """An argument is missing, of the wrong type, malformed or over a limit.

    Data: ``field`` (almost always); ``item`` for one item of a batch; ``length`` and
    ``limit`` when too long (characters, or items for a batch); ``value`` and ``allowed``
    for an unknown status; ``fields`` when one of several fields is needed; ``dir`` for a
    directory that does not exist; ``sid`` for an unknown session.
    """

    kind = "invalid_argument"
    code = 1007


class StorageBusy(NpError):
    """The write lock could not be had within the busy timeout (one deadline). Retryable.

    Data: ``field="db"``, ``path`` (the database file), ``cause`` (``"busy"`` or
    ``"locked"``), and ``timeout`` (seconds) where a probe set one.
    """

    kind = "storage_busy"
    code = 1008


class WriteConflict(StorageBusy):
    """Another writer changed what a unit of work read before its writes got there (an
    engine that decides without holding a lock: PostgreSQL). Nothing was written; the
    command may simply run again (``retry_safe``: ``server.commands.table.execute`` does,
    a few times)."""

    retry_safe: ClassVar[bool] = True


class StorageError(NpError):
    """The database is unreadable, not a database, newer than this np, or not writable.

    Data: ``field="db"``, ``path`` and ``cause`` — ``"missing"``, ``"not_a_database"``,
    ``"corrupt"``, ``"read_only"``, ``"cannot_open"``, ``"full"`` or ``"other"``
    (:class:`store.sqlite.conn.Failure`), or ``"newer_schema"`` with ``schema_version`` and
    ``supported`` for a file written by a newer np.
    """

    kind = "storage_error"
    code = 1009

    @property
    def damaged(self) -> bool:
        """Whether the database file is damaged (SQLITE_CORRUPT, SQLITE_NOTADB)."""
        return self.data.get("cause") in ("corrupt", "not_a_database")


def committed_into_damage(exc: StorageError, way_out: str) -> StorageError:
    """The error for a change that committed, then met a damaged database while its
    result was read back: told truthfully (``data.committed``), with the door's
    ``way_out`` (what to stop, how to check and restore, in the door's own words)."""
    return StorageError(
        "The change was committed, but the database file is damaged (reading the result "
        f"back failed), so the change may be lost: {way_out}",
        **{**exc.data, "committed": True},
    )


class ChangedSinceSeen(NpError):
    """Another actor changed the task(s) or the goal this write changes, and the writer has
    not seen that change: nothing was written. The changes are marked seen once shown, so
    the same write again is an informed decision and succeeds.

    Data: ``sid``; ``ids`` (the tasks concerned) and/or ``goal: true``; ``seqs`` (the
    events that conflict). The doors add ``changes`` and ``notice`` (as a notice shows
    them).
    """

    kind = "changed_since_seen"
    code = 1010

    def __init__(self, message: str, changes: Any = None, **data: Any) -> None:
        super().__init__(message, **data)
        self.changes = changes  # store.types.Changes: the notice to show, then mark seen


class TaskClaimed(NpError):
    """Another actor holds a live claim on the task: its status is theirs to change until
    the claim expires, unless taken over on purpose with a reason.

    Data: ``field="id"``, ``id``, ``sid``, ``claimed_by``, ``claim_expires_at``.
    """

    kind = "task_claimed"
    code = 1011


class DependencyRefused(NpError):
    """What a task waits for cannot be so: an unknown task, itself, or a cycle.

    Data: ``field="after"``, ``id`` (the task), ``after`` (the ids), ``cycle`` (the ids
    around the cycle) or ``ids`` (unknown ones).
    """

    kind = "dependency_refused"
    code = 1012


ALL_ERRORS: tuple[type[NpError], ...] = (
    NoActiveSession,
    SessionAlreadyActive,
    GoalAlreadySet,
    GoalNotSet,
    TaskNotFound,
    ReasonRequired,
    InvalidArgument,
    StorageBusy,
    StorageError,
    ChangedSinceSeen,
    TaskClaimed,
    DependencyRefused,
)
"""Every error class a user can meet, for front doors and tests that walk them all."""
