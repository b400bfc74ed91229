"""Rules for many agents on one plan: leases, claims, dependencies and readiness.

Engine-neutral and free of SQL: the unit of work reads rows, asks these rules, and writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from .clock import format_time
from .errors import DependencyRefused, InvalidArgument
from .types import Status, Task

# How long a claim lasts without a write from its holder, in minutes (NP_LEASE_MINUTES).
DEFAULT_LEASE_MINUTES = 30.0
LEASE_MAX_MINUTES = 7 * 24 * 60.0
AFTER_MAX = 50  # the most tasks one task may wait for


def lease_minutes() -> float:
    """The lease length: ``$NP_LEASE_MINUTES`` (a number of minutes, > 0), else 30.

    Raises:
        InvalidArgument: the setting is not a number from 0.1 to a week (``field="lease"``).
    """
    raw = os.environ.get("NP_LEASE_MINUTES", "").strip()
    if not raw:
        return DEFAULT_LEASE_MINUTES
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.1 <= value <= LEASE_MAX_MINUTES:
        raise InvalidArgument(
            f"NP_LEASE_MINUTES must be a number of minutes from 0.1 to {LEASE_MAX_MINUTES:.0f}.",
            field="lease",
            value=raw[:40],
        )
    return value


def lease_end(now: str) -> str:
    """When a claim taken or renewed at ``now`` (np's time text) expires."""
    start = datetime.fromisoformat(now.replace("Z", "+00:00"))
    return format_time(start + timedelta(minutes=lease_minutes()))


def shown_time(at: str | None) -> str:
    """``2026-12-06T01:23:28.950842Z`` → ``2026-12-06 01:23:28Z`` (messages)."""
    return f"{at[:19].replace('T', ' ')}Z" if at else "?"


def live_claim(task: Task, now: str) -> bool:
    """Whether someone holds ``task`` at ``now``: claimed and not yet expired."""
    return task.claimed_by is not None and (task.claim_expires_at or "") > now


def held_by_other(task: Task, actor: str | None, now: str) -> bool:
    """Whether a live claim on ``task`` belongs to someone other than ``actor``."""
    return live_claim(task, now) and task.claimed_by != actor


def resolve_after(
    position: int, wanted: Sequence[str], batch: Sequence[str], known: Iterable[str]
) -> tuple[str, ...]:
    """The ids task number ``position`` (1-based) of a batch waits for: ids of tasks
    already in the plan, or ``#N`` for an earlier task of the same batch (``batch``: the
    ids given to the batch so far, in order).

    Raises:
        DependencyRefused: an unknown id, a ``#N`` that is not an earlier task of the batch,
            or too many (``field="after"``, ``item``).
    """
    have = set(known)
    out: list[str] = []
    unknown: list[str] = []
    for raw in wanted:
        value = raw.strip().lower()
        if value.startswith("#") and value[1:].isdigit():
            n = int(value[1:])
            if not 1 <= n < position:
                raise DependencyRefused(
                    f"Task {position} can wait only for an earlier task of the same batch "
                    f"(#1 to #{position - 1}), not {value}.",
                    field="after",
                    item=position,
                    after=list(wanted),
                )
            value = batch[n - 1]
        elif value not in have:
            unknown.append(value[:20])
            continue
        if value not in out:
            out.append(value)
    if unknown:
        raise DependencyRefused(
            f"No task with id {', '.join(unknown)} in this session to wait for.",
            field="after",
            item=position,
            ids=unknown,
        )
    if len(out) > AFTER_MAX:
        raise DependencyRefused(
            f"A task can wait for at most {AFTER_MAX} others.", field="after", item=position
        )
    return tuple(out)


def find_cycle(graph: Mapping[str, Iterable[str]], start: str) -> list[str] | None:
    """A path ``start → … → start`` through ``graph`` (task → what it waits for), if any."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    visited: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return [*path, start]
            if nxt not in visited:
                visited.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def check_no_cycle(graph: Mapping[str, Iterable[str]], task_id: str) -> None:
    """Refuse a dependency graph in which ``task_id`` (transitively) waits for itself.

    Raises:
        DependencyRefused: ``field="after"``, ``id``, ``cycle``.
    """
    cycle = find_cycle(graph, task_id)
    if cycle is not None:
        shown = " → ".join(cycle)
        raise DependencyRefused(
            f"Task {task_id} cannot wait for that: it would wait for itself ({shown}).",
            field="after",
            id=task_id,
            cycle=cycle,
        )


def is_ready(task: Task, by_id: Mapping[str, Task], now: str) -> bool:
    """Ready: pending (or in progress under an expired claim), every task it waits for
    completed, and nobody holds a live claim on it."""
    if task.status is Status.PENDING:
        pass
    elif task.status is Status.IN_PROGRESS and task.claimed_by and not live_claim(task, now):
        pass  # abandoned: its holder's lease ran out
    else:
        return False
    if live_claim(task, now):
        return False
    return all(by_id[a].status is Status.COMPLETED for a in task.after if a in by_id)


def why_none_ready(tasks: Sequence[Task], now: str) -> tuple[str, list[dict[str, object]]]:
    """Why no task is ready, in one neutral paragraph, and the facts (one dict per task
    that waits or is held). ``tasks``: every task of the plan."""
    by_id = {t.id: t for t in tasks}
    facts: list[dict[str, object]] = []
    lines: list[str] = []
    for t in tasks:
        if t.status is Status.IN_PROGRESS and live_claim(t, now):
            facts.append({"id": t.id, "held_by": t.claimed_by, "until": t.claim_expires_at})
            lines.append(
                f"{t.id} {t.title!r} is held by {t.claimed_by} until "
                f"{shown_time(t.claim_expires_at)}"
            )
        elif t.status is Status.IN_PROGRESS:
            facts.append({"id": t.id, "in_progress": True})
            lines.append(f"{t.id} {t.title!r} is in progress")
        elif t.status is Status.PENDING:
            blockers = [
                a for a in t.after if a in by_id and by_id[a].status is not Status.COMPLETED
            ]
            shown = ", ".join(f"{a} ({by_id[a].status})" for a in blockers)
            facts.append({"id": t.id, "waits_for": blockers})
            lines.append(f"{t.id} {t.title!r} waits for {shown}")
    if not tasks:
        return "No task is ready: the plan has no tasks.", facts
    if not lines:
        return "No task is ready: every task is finished (completed, failed or cancelled).", facts
    more = f" (and {len(lines) - 8} more)" if len(lines) > 8 else ""
    return "No task is ready: " + "; ".join(lines[:8]) + more + ".", facts


__all__ = [
    "check_no_cycle",
    "find_cycle",
    "held_by_other",
    "is_ready",
    "lease_end",
    "lease_minutes",
    "live_claim",
    "resolve_after",
    "why_none_ready",
]
