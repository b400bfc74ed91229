"""Value types of the domain: immutable attrs classes with a small, explicit surface."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from .errors import InvalidArgument


class Status(enum.StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def glyph(self) -> str:
        return GLYPHS[self]

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @property
    def needs_reason(self) -> bool:
        return self in (Status.FAILED, Status.CANCELLED)

    @classmethod
    def parse(cls, value: object) -> Status:
        """A status from its value, any case, ``-`` or space for ``_``, or an alias
        (``done``, ``complete``, ``canceled``). A ``Status`` is returned as is.

        Raises:
            InvalidArgument: not a status (``data``: ``field="status"``, ``value``,
                ``allowed``).
        """
        if isinstance(value, Status):
            return value
        text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
        found = STATUS_ALIASES.get(text) or _BY_VALUE.get(text)
        if found is not None:
            return found
        names = ", ".join(s.value for s in Status)
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:39] + "…"
        raise InvalidArgument(
            f"Unknown status {shown}; the statuses are {names}.",
            field="status",
            value=str(value)[:40],
            allowed=[s.value for s in Status],
        )


_BY_VALUE: dict[str, Status] = {s.value: s for s in Status}

# Spellings agents reach for; each saves a wasted round trip. The stored value is canonical.
STATUS_ALIASES: dict[str, Status] = {
    "done": Status.COMPLETED,
    "complete": Status.COMPLETED,
    "canceled": Status.CANCELLED,
}

GLYPHS: dict[Status, str] = {
    Status.PENDING: "☐",
    Status.IN_PROGRESS: "⟳",
    Status.COMPLETED: "☑",
    Status.FAILED: "☒",
    Status.CANCELLED: "⊗",
}


class SessionState(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class EventType(enum.StrEnum):
    SESSION_STARTED = "session_started"
    GOAL_SET = "goal_set"
    GOAL_UPDATED = "goal_updated"
    TASK_ADDED = "task_added"
    TASK_UPDATED = "task_updated"
    TASK_STATUS_CHANGED = "task_status_changed"
    SESSION_ARCHIVED = "session_archived"
    SESSION_MOVED = "session_moved"  # the operator moved it to its folder's new path
    TASK_CLAIMED = "task_claimed"  # an actor claimed a task (in progress, np next, a takeover)
    TASK_AFTER_CHANGED = "task_after_changed"  # what a task waits for was changed
    SESSION_JOINED = "session_joined"  # another folder (a worktree, a clone) joined the plan
    TASK_ASKED = "task_asked"  # an actor attached a question to a task
    TASK_ANSWERED = "task_answered"  # an actor answered a task's open question
    TASK_ASK_WITHDRAWN = "task_ask_withdrawn"  # the question was withdrawn unanswered


class _Value:
    """The base of np's value types: one ``__repr__``, ``__eq__`` and ``__hash__`` shared by
    all of them, with attrs' meaning (same class, equal fields in order). attrs would
    compile these per class, and each class is defined anew in every process: for the ten
    classes here that was about a sixth of a CLI write's own work beyond its libraries
    (bench/cli_latency.py; counted in instructions, BENCHMARKS.md)."""

    __slots__ = ()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in attrs.fields(type(self)))  # type: ignore[arg-type]

    def __repr__(self) -> str:
        fields = attrs.fields(type(self))  # type: ignore[arg-type]
        values = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields)
        return f"{type(self).__name__}({values})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, _Value)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, *self._fields()))


@attrs.frozen(repr=False, eq=False)  # _Value: repr, eq, hash
class Session(_Value):
    sid: str
    dir: str
    state: SessionState
    created_at: str
    last_updated_at: str
    archived_at: str | None = None
    scope: str = ""  # "" on SQLite; the host name or NP_SCOPE on PostgreSQL

    @property
    def active(self) -> bool:
        return self.state is SessionState.ACTIVE


@attrs.frozen(repr=False, eq=False)
class Goal(_Value):
    title: str
    description: str
    updated_at: str


@attrs.frozen(repr=False, eq=False)
class Ask(_Value):
    """A task's open question: asked by ``by`` at ``at`` (event ``seq``), optionally with a
    few answer ``choices``. It stays open until answered or withdrawn; nothing waits."""

    question: str
    choices: tuple[str, ...]
    by: str | None
    at: str
    seq: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "choices": list(self.choices),
            "by": self.by,
            "at": self.at,
            "seq": self.seq,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ask:
        return cls(
            str(data["question"]),
            tuple(str(c) for c in data.get("choices") or ()),
            data.get("by"),
            str(data["at"]),
            int(data["seq"]),
        )


@attrs.frozen(repr=False, eq=False)
class Task(_Value):
    id: str
    title: str
    description: str
    status: Status
    created_at: str
    updated_at: str
    created_seq: int
    # Why the task is failed or cancelled (the reason of that status change); else None.
    reason: str | None = None
    # Who holds the task (its claim) and until when (RFC 3339); None when nobody does.
    claimed_by: str | None = None
    claim_expires_at: str | None = None
    # The ids of the tasks it waits for (its dependencies), in the order given.
    after: tuple[str, ...] = ()
    # The task's open question (np t q / np.task.ask), until answered or withdrawn.
    ask: Ask | None = None


@attrs.frozen(repr=False, eq=False)
class Event(_Value):
    sid: str
    seq: int
    at: str
    type: EventType
    reason: str | None
    cmd: str
    payload: dict[str, Any]
    # Who made it: the CLI's agent or NP_ACTOR/--actor, a JSON-RPC or MCP client's name.
    # None for events written before actors were recorded.
    actor: str | None = None


@attrs.frozen(repr=False, eq=False)
class Changes(_Value):
    """What other actors changed since an actor last looked at a session (newest last).

    ``events`` holds at most the newest ``NOTICE_LIMIT`` of them; the older ones are
    ``folded`` into a count (seqs ``folded_from``…``folded_to``), never dropped silently.
    """

    events: tuple[Event, ...] = ()
    folded: int = 0
    folded_from: int = 0
    folded_to: int = 0
    # What to mark seen once the output carrying this notice was produced: the session,
    # the actor and the newest seq the notice covers (0: nothing to mark).
    sid: str = ""
    actor: str = ""
    upto: int = 0
    # Answers to this actor's own questions among them (every one, never folded): shown
    # first, once.
    answers: tuple[Event, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.events) or self.folded > 0 or bool(self.answers)


# The most changes a notice lists one by one; older ones are folded into a count.
NOTICE_LIMIT = 5


@attrs.frozen(repr=False, eq=False)
class Plan(_Value):
    """A consistent snapshot of one session, read in one read transaction.

    A *preview* (``Store.plan_preview``) carries only the tasks worth showing of a long
    plan, with ``task_counts`` covering all of them; a full plan leaves it ``None``.
    """

    session: Session
    goal: Goal | None
    tasks: tuple[Task, ...]
    task_counts: dict[str, int] | None = None

    @property
    def complete(self) -> bool:
        return self.task_counts is None

    def counts(self) -> dict[str, int]:
        if self.task_counts is not None:
            return dict(self.task_counts)
        return count_statuses(t.status for t in self.tasks)


def count_statuses(statuses: Iterable[Status]) -> dict[str, int]:
    counts = dict.fromkeys(Status, 0)
    for status in statuses:
        counts[status] += 1
    return {str(status): n for status, n in counts.items()}


# Above this many tasks a plan is shown as a preview: the rest is counted, never dropped.
PREVIEW_LIMIT = 100
_ALWAYS_SHOWN = (Status.IN_PROGRESS, Status.FAILED, Status.CANCELLED)


def preview_ids(tasks: Sequence[tuple[str, Status]], limit: int = PREVIEW_LIMIT) -> set[str] | None:
    """Which tasks of a long plan to show, given ``(id, status)`` in creation order.

    ``None`` when the plan is short enough to show whole. Otherwise: the tasks in progress,
    failed and cancelled (the newest ``limit`` of each), then pending tasks in order until
    the limit is reached (at least ten); completed work and far-off pending work is counted.
    """
    if len(tasks) <= limit:
        return None
    shown: set[str] = set()
    for status in _ALWAYS_SHOWN:
        shown.update([task_id for task_id, s in tasks if s is status][-limit:])
    room = max(limit - len(shown), 10)
    for task_id, status in tasks:
        if room <= 0:
            break
        if status is Status.PENDING:
            shown.add(task_id)
            room -= 1
    return shown


@attrs.frozen(repr=False, eq=False)
class NewTask(_Value):
    title: str
    description: str = ""
    # What it waits for: ids of tasks already in the plan, or ``#N`` for the N-th task of
    # the same batch (1-based).
    after: tuple[str, ...] = ()


def _task_id(value: object) -> str:
    """A task id as typed: surrounding space dropped, lower case (ids are stored so)."""
    return str(value).strip().lower()


def _status(value: object) -> Status:
    return Status.parse(value)


@attrs.frozen(repr=False, eq=False)
class StatusChange(_Value):
    """One requested status change. ``status`` accepts anything :meth:`Status.parse` does
    (so an unknown status fails here, with ``invalid_argument``); ``id`` is normalised."""

    id: str = attrs.field(converter=_task_id)
    status: Status = attrs.field(converter=_status)
    reason: str | None = None
    # Take over another actor's live claim on the task, on purpose (needs a reason).
    take_over: bool = False
