"""Claims and leases in the store, on both engines, with an injected clock (issue 21): a
claim lasts its lease, the holder's writes renew it, an expired claim is taken by exactly
one of two racing np next, logged once as task_claimed with the holder it was taken from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from store import NewTask, Status, StatusChange, Store

START = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


class Clock:
    """A settable clock (each unit of work reads it once)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def opened(np_db: str, clock: Callable[[], datetime]) -> Store:
    return Store(np_db, clock=clock)


def test_an_expired_claim_is_reclaimed_once_and_renewed_by_its_holders_writes(
    np_db: str, tmp_path: Path
) -> None:
    clock = Clock()
    with opened(np_db, clock) as a, opened(np_db, clock) as b, opened(np_db, clock) as c:
        with a.transaction("np s", "agent-a") as unit:
            sid = unit.start_session(str(tmp_path)).sid
            first, second = unit.add_tasks(sid, [NewTask("one"), NewTask("two")])
        with a.transaction("np next", "agent-a") as unit:
            task, _, _ = unit.next_task(sid)
        assert task is not None and task.id == first.id
        assert task.claim_expires_at == "2026-12-06T10:30:00.000000Z"  # the 30-minute lease
        # 20 minutes on, the holder writes (anything): its lease runs 30 minutes from now
        clock.now = START + timedelta(minutes=20)
        with a.transaction("np t a", "agent-a") as unit:
            unit.add_tasks(sid, [NewTask("three")])
        (held,) = [t for t in a.tasks(sid) if t.id == first.id]
        assert held.claim_expires_at == "2026-12-06T10:50:00.000000Z"
        # 40 minutes on it is still live: b's np next takes the next ready task instead
        clock.now = START + timedelta(minutes=40)
        with b.transaction("np next", "agent-b") as unit:
            got, _, _ = unit.next_task(sid)
        assert got is not None and got.id == second.id
        # past the lease: b and c race for it; exactly one takes it over
        clock.now = START + timedelta(minutes=51)
        taken = []
        for store, actor in ((b, "agent-b"), (c, "agent-c")):
            with store.transaction("np next", actor) as unit:
                got, _, _ = unit.next_task(sid)
            taken.append(got.id if got is not None else None)
        assert taken.count(first.id) == 1, taken
        events = [e for e in a.events(sid) if e.type == "task_claimed"]
        assert len(events) == 1
        assert events[0].payload["taken_from"] == "agent-a" and events[0].payload["expired"]
        # the former holder's status change is now refused: the task is someone else's
        winner = "agent-b" if taken[0] == first.id else "agent-c"
        (now_held,) = [t for t in a.tasks(sid) if t.id == first.id]
        assert now_held.claimed_by == winner and now_held.status is Status.IN_PROGRESS
        try:
            with a.transaction("np t u", "agent-a") as unit:
                unit.set_statuses(sid, [StatusChange(first.id, "completed")])
        except Exception as exc:
            assert getattr(exc, "kind", "") == "task_claimed", exc
        else:
            raise AssertionError("the former holder overrode the new holder's claim")
