"""``NP_BUSY_TIMEOUT`` means the same on both engines (issue 20, kind 4).

``0`` means "do not wait": a write whose lock another process holds fails at once with
exit 3 and nothing written, on SQLite and on PostgreSQL (whose own ``lock_timeout=0``
means "wait forever"). A value between 0 and one millisecond, which the engines would
read in opposite ways, is refused with a clear sentence (exit 2) before anything is
opened. The real ``np`` against a lock held by another connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import NpRunner


@contextmanager
def _lock_held(db: str) -> Iterator[None]:
    """Another connection holds what a write needs: SQLite's write lock; on PostgreSQL
    the sessions table (every write touches its session's row)."""
    if db.startswith("postgresql://"):
        import psycopg

        conn: Any = psycopg.connect(db)
        conn.execute("LOCK TABLE sessions IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _tasks(run_np: NpRunner, env: dict[str, str]) -> list[str]:
    r = run_np("t", "--json", env=env)
    assert r.code == 0, r
    return [t["title"] for t in r.json()["tasks"]]


def test_zero_means_do_not_wait_on_both_engines(run_np: NpRunner, np_db: str) -> None:
    env = {"NP_DB": np_db, "NP_BUSY_TIMEOUT": "0"}
    assert run_np("s", env=env).code == 0
    assert run_np("t", "a", "-t", "free", env=env).code == 0  # 0 never blocks a free lock
    with _lock_held(np_db):
        # "wait forever" would hang here until the subprocess timeout
        r = run_np("t", "a", "-t", "blocked", "--json", env=env, timeout=60)
        assert r.code == 3, r
        assert r.json()["error"]["kind"] == "storage_busy", r
    assert _tasks(run_np, env) == ["free"]


@pytest.mark.parametrize("value", ["0.0005", "1e-9", "0.0009999", "-0", "nan", "601"])
def test_values_the_engines_would_read_apart_are_refused(
    run_np: NpRunner, np_db: str, value: str
) -> None:
    env = {"NP_DB": np_db, "NP_BUSY_TIMEOUT": value}
    r = run_np("s", env=env)
    if value == "-0":  # minus zero is zero: do not wait
        assert r.code == 0, r
        return
    assert r.code == 2, r
    assert "NP_BUSY_TIMEOUT must be 0 (do not wait for a lock)" in r.err, r.err
    assert run_np("ls", "--json", env={"NP_DB": np_db}).json()["sessions"] == []


def test_one_millisecond_is_a_wait_on_both_engines(run_np: NpRunner, np_db: str) -> None:
    env = {"NP_DB": np_db, "NP_BUSY_TIMEOUT": "0.001"}
    assert run_np("s", env=env).code == 0
    with _lock_held(np_db):
        r = run_np("t", "a", "-t", "blocked", env=env, timeout=60)
        assert r.code == 3, r
    assert _tasks(run_np, env) == []
