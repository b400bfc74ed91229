"""Actors, what each actor has seen, and task reasons, in the store: the migration from a
schema-1 file (old events stay readable, reasons are backfilled), the per-actor notice
(set by the actor's own writes in the same transaction, and by its reads), its bound."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from store import NewTask, Status, StatusChange, Store
from store.sqlite.migrations import migrations
from store.types import NOTICE_LIMIT

SID = "01JB0000000000000000000000"
T = "2026-01-02T03:04:05.000000Z"


def schema_one_file(path: Path) -> None:
    """A database as np 0.1 wrote it: schema 1, a failed task, events without actors."""
    conn = sqlite3.connect(path)
    migrations.apply(Database(conn), stop_before="m002_actors_seen_and_task_reasons")
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO sessions VALUES (?, ?, 'active', ?, ?, NULL)", (SID, str(path.parent), T, T)
    )
    task = {"id": "abc123", "title": "Old task", "description": "", "status": "pending"}
    events = [
        ("session_started", None, {"dir": str(path.parent)}),
        ("task_added", None, {"task": {**task, "created_at": T, "updated_at": T}}),
        (
            "task_status_changed",
            "the old way failed",
            {
                "task_id": "abc123",
                "title": "Old task",
                "status_before": "pending",
                "status_after": "failed",
                "updated_at": T,
            },
        ),
    ]
    for seq, (kind, reason, payload) in enumerate(events, 1):
        conn.execute(
            "INSERT INTO events (sid, seq, at, type, reason, cmd, payload) "
            "VALUES (?, ?, ?, ?, ?, 'np old', ?)",
            (SID, seq, T, kind, reason, json.dumps(payload)),
        )
    conn.execute(
        "INSERT INTO tasks VALUES (?, 'abc123', 'Old task', '', 'failed', ?, ?, 2)", (SID, T, T)
    )
    conn.commit()
    conn.close()


def test_a_schema_one_file_migrates_forward_and_its_events_stay_readable(tmp_path: Path) -> None:
    path = tmp_path / "np.db"
    schema_one_file(path)
    with Store(str(path)) as store:
        events = store.events(SID)
        assert [e.actor for e in events] == [None, None, None]
        assert events[2].reason == "the old way failed"
        (task,) = store.tasks(SID)
        assert task.status is Status.FAILED and task.reason == "the old way failed"
        # The first look of an actor is the plan itself: no notice, and then it is tracked.
        assert not store.look(SID, "agent")
        with store.transaction("np t u", "Neovim") as unit:
            unit.set_statuses(SID, [StatusChange("abc123", "pending")])
        (task,) = store.tasks(SID)
        assert task.reason is None  # a reopened task has no failure reason any more
        changes = store.look(SID, "agent")
        assert [(e.seq, e.actor) for e in changes.events] == [(4, "Neovim")]
        assert not store.look(SID, "agent")


def test_an_actors_own_write_marks_it_seen_in_the_same_transaction(
    np_db: str, tmp_path: Path
) -> None:
    with Store(np_db) as store:
        with store.transaction("np s", "agent") as unit:
            sid = unit.start_session(str(tmp_path)).sid
            assert not unit.look(sid)
        with store.transaction("lsp", "Neovim") as unit:
            assert not unit.look(sid)  # the editor's first look
            unit.add_tasks(sid, [NewTask("from the editor")])
        with store.transaction("np t a", "agent") as unit:
            unit.add_tasks(sid, [NewTask("mine")])
            changes = unit.look(sid)
            # Others' changes before this unit's own events; the unit's own are not news.
            assert [e.actor for e in changes.events] == ["Neovim"]
        # A notice is marked seen only once the output carrying it was produced (the door
        # calls mark_seen then): until then it is still there, never lost.
        assert store.pending == [changes]
        store.pending.clear()  # that output failed
        assert [e.actor for e in store.look(sid, "agent", defer=True).events] == ["Neovim"]
        store.mark_seen()  # this one was produced
        assert not store.look(sid, "agent")
        # A rolled-back unit marks nothing seen.
        with store.transaction("lsp", "Neovim") as unit:
            unit.add_tasks(sid, [NewTask("again")])
        try:
            with store.transaction("np t a", "agent") as unit:
                assert unit.look(sid).events
                raise RuntimeError("the command failed after looking")
        except RuntimeError:
            pass
        assert [e.payload["task"]["title"] for e in store.look(sid, "agent").events] == ["again"]


def test_a_long_run_is_folded_never_dropped(np_db: str, tmp_path: Path) -> None:
    with Store(np_db) as store:
        with store.transaction("np s", "agent") as unit:
            sid = unit.start_session(str(tmp_path)).sid
            unit.look(sid)
        for n in range(NOTICE_LIMIT + 7):
            with store.transaction("lsp", "Neovim" if n % 2 else "ana") as unit:
                unit.add_tasks(sid, [NewTask(f"t{n}")])
        changes = store.look(sid, "agent")
        assert len(changes.events) == NOTICE_LIMIT
        assert changes.folded == 7 and (changes.folded_from, changes.folded_to) == (2, 8)
        assert [e.seq for e in changes.events] == list(range(9, 9 + NOTICE_LIMIT))
