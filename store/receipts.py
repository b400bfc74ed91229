"""Receipts: which other actors working on a plan have seen each event, and when.

Read by ``np log``/``np.events``, ``np m`` and ``np web``, never by a write: kept out of
``store.types`` and ``store.queries`` so that a CLI write does not define the class (an
attrs class is compiled anew in every process; bench/cli_latency.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from .engine import Conn
from .types import Event, _Value


@attrs.frozen(repr=False, eq=False)
class Receipt(_Value):
    """Whether ``actor`` (an actor working on the plan) has seen one event: ``seen_at`` is
    when it first did (None: not yet, or seen before np kept times); ``last_looked`` is the
    last time it read or wrote something new in that plan."""

    actor: str
    seen: bool
    seen_at: str | None
    last_looked: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "seen": self.seen,
            "seen_at": self.seen_at,
            "last_looked": self.last_looked,
        }


def receipts(conn: Conn, sid: str, events: Iterable[Event]) -> dict[int, list[Receipt]]:
    """For each of ``events`` (of session ``sid``), by seq: whether each other actor that
    works on the plan (one that read or wrote it: it has a ``seen`` row) has seen it, and
    when. An actor's first receipt at or past an event's seq is when it saw it; an actor
    that saw it before np kept receipts has ``seen`` without a time."""
    wanted = [e for e in events if e.sid == sid]
    if not wanted:
        return {}
    workers = {
        str(r[0]): int(r[1])
        for r in conn.execute("SELECT actor, seq FROM seen WHERE sid = ? ORDER BY actor", (sid,))
    }
    low, high = min(e.seq for e in wanted), max(e.seq for e in wanted)
    marks: dict[str, list[tuple[int, str]]] = {}
    last: dict[str, str] = {}
    # The receipts within the events' span, and each actor's first one past it (an actor's
    # receipts grow in seq and in time together): memory bounded by the span, not the log.
    for actor, seq, at in conn.execute(
        "SELECT actor, seq, at FROM receipts WHERE sid = ? AND seq >= ? AND seq <= ? "
        "ORDER BY actor, seq",
        (sid, low, high),
    ):
        marks.setdefault(str(actor), []).append((int(seq), str(at)))
    for actor, seq, at in conn.execute(
        "SELECT actor, min(seq), min(at) FROM receipts WHERE sid = ? AND seq > ? GROUP BY actor",
        (sid, high),
    ):
        marks.setdefault(str(actor), []).append((int(seq), str(at)))
    for actor, at in conn.execute(
        "SELECT actor, max(at) FROM receipts WHERE sid = ? GROUP BY actor", (sid,)
    ):
        last[str(actor)] = str(at)
    out: dict[int, list[Receipt]] = {}
    for event in wanted:
        found: list[Receipt] = []
        for actor, upto in workers.items():
            if actor == event.actor:
                continue
            seen = upto >= event.seq
            at = next((t for s, t in marks.get(actor, ()) if s >= event.seq), None)
            found.append(Receipt(actor, seen, at if seen else None, last.get(actor)))
        out[event.seq] = found
    return out
