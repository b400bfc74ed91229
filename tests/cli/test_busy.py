"""One write waits for the lock at most NP_BUSY_TIMEOUT in total, then exits 3 with
nothing written; reads do not wait at all. The real ``np`` against a lock held by
another process."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tests.conftest import NpRunner


def test_a_write_waits_one_busy_timeout_then_exit_3(run_np: NpRunner, db_path: Path) -> None:
    assert run_np("s").code == 0
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        t0 = time.monotonic()
        r = run_np("t", "a", "-t", "blocked", env={"NP_BUSY_TIMEOUT": "2"})
        waited = time.monotonic() - t0
        assert r.code == 3, r
        assert "Traceback" not in r.err
        assert 2.0 <= waited < 5, waited  # one timeout (the old retries took 8 s or more)
        t0 = time.monotonic()
        assert run_np("p", env={"NP_BUSY_TIMEOUT": "30"}).code == 0  # a read: no wait
        assert time.monotonic() - t0 < 15
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 0
    conn.close()


def test_a_read_with_a_notice_does_not_wait_for_the_lock(run_np: NpRunner, db_path: Path) -> None:
    """``np p`` marks "changed since you last looked" seen, which needs the write lock;
    with the lock held elsewhere it prints at once, notice included, and shows it again
    next time."""
    assert run_np("s").code == 0
    assert run_np("--actor", "ana", "t", "a", "-t", "from ana").code == 0
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        t0 = time.monotonic()
        first = run_np("p", "--json", env={"NP_BUSY_TIMEOUT": "60"})
        took = time.monotonic() - t0
        assert first.code == 0, first
        assert first.json().get("notice"), first
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert took < 30, took  # not the 60 s busy timeout
    again = run_np("p", "--json").json()
    assert again.get("notice") == first.json()["notice"]  # unmarked before: shown again
    assert "notice" not in run_np("p", "--json").json()
