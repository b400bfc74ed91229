"""Schema versioning, migration under the write lock, and the change feed."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from store import NewTask, StorageError, Store
from store.feed import open_feed
from store.sqlite.schema import SCHEMA_VERSION


def test_new_database_gets_the_schema_wal_and_private_modes(tmp_path: Path) -> None:
    path = tmp_path / "new" / "np.db"
    Store(str(path)).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "goals", "tasks", "events", "_sqlite_migrations"} <= tables
    conn.close()
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path.parent).st_mode & 0o777 == 0o700


def test_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "np.db"
    Store(str(path)).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StorageError, match="newer np"):
        Store(str(path))
    assert path.read_bytes() == before


def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "np.db"
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    before = path.read_bytes()
    with pytest.raises(StorageError, match="not an np database"):
        Store(str(path))
    assert path.read_bytes() == before


MIGRATE = """
import sys
from store import Store
Store(sys.argv[1]).close()
print("ok")
"""


def test_processes_opening_a_fresh_file_at_once_migrate_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "np.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, outputs
    conn = sqlite3.connect(path)
    # one migration per schema version, each applied exactly once
    assert conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_change_feed_sees_commits_from_other_connections(tmp_path: Path) -> None:
    path = str(tmp_path / "np.db")
    work = tmp_path / "w"
    work.mkdir()
    with Store(path) as store:
        feed = open_feed(path)
        assert feed.poll() == []
        with store.transaction("np s") as unit:
            sid = unit.start_session(str(work)).sid
        with store.transaction("np t a") as unit:
            unit.add_tasks(sid, [NewTask("a"), NewTask("b")])
        (change,) = feed.poll()  # coalesced: one per session, its newest event
        assert (change.sid, change.dir, change.seq, str(change.type)) == (
            sid,
            str(work.resolve()),
            3,
            "task_added",
        )
        assert feed.poll() == []
        feed.close()


def test_a_schema_1_file_is_migrated_in_place_keeping_its_log(tmp_path: Path) -> None:
    """m003 rebuilds the events table (a CHECK cannot change in place): every row and
    rowid is kept, the append-only triggers come back, active sessions get their folder's
    identity, and session_moved is accepted afterwards."""
    from sqlite_utils import Database

    from store.sqlite.migrations import migrations

    path = tmp_path / "v1.db"
    work = tmp_path / "work"
    work.mkdir()
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.apply(Database(conn), stop_before="m002_actors_seen_and_task_reasons")
    conn.execute("PRAGMA user_version = 1")
    sid = "01M8K7278409G6Z2J742ZZAYH3"
    at = "2026-01-01T00:00:00.000000Z"
    conn.execute(
        "INSERT INTO sessions VALUES (?, ?, 'active', ?, ?, NULL)", (sid, str(work), at, at)
    )
    for seq in (1, 2):
        conn.execute(
            "INSERT INTO events (id, sid, seq, at, type, reason, cmd, payload) "
            "VALUES (?, ?, ?, ?, 'session_started', NULL, 'np s', '{}')",
            (10 + seq, sid, seq, at),
        )
    conn.close()

    with Store(str(path)) as store:
        assert [e.seq for e in store.events(sid)] == [1, 2]
        moved = tmp_path / "moved"
        work.rename(moved)
        with store.transaction("np mv") as unit:
            unit.move_session(sid, str(moved), "renamed")
        assert store.events(sid)[-1].type == "session_moved"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert [r[0] for r in conn.execute("SELECT id FROM events ORDER BY id")][:2] == [11, 12]
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET reason = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events")
    with pytest.raises(sqlite3.IntegrityError, match="without a gap"):
        conn.execute(
            "INSERT INTO events (sid, seq, at, type, cmd, payload) "
            "VALUES (?, 9, ?, 'goal_set', 'x', '{}')",
            (sid, at),
        )
    conn.close()
