"""Readers never wait for writers, and one write waits for the lock at most
``NP_BUSY_TIMEOUT`` in all: a real ``np serve`` while another process holds SQLite's
write lock."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from serve_support import RawServer, check_reply, frame, run_cli, server_env


def command(msg_id: int, name: str, arg: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "workspace/executeCommand",
        "params": {"command": name, "arguments": [arg]},
    }


def test_reads_answer_while_a_write_waits_for_the_lock(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    db = tmp_path / "np.db"
    with RawServer(server_env(db, NP_BUSY_TIMEOUT="60"), root) as server:
        server.initialize(root)
        assert "result" in server.command("np.session.start", {})
        holder = sqlite3.connect(db, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            write = server.new_id()
            server.send(frame(command(write, "np.task.add", {"tasks": [{"title": "w"}]})))
            time.sleep(0.1)
            t0 = time.monotonic()
            for name in ("np.plan", "np.task.list", "np.events", "np.session.list"):
                assert "result" in server.command(name, {}), name
            took = time.monotonic() - t0
            # ... while the write is still waiting for the lock
            try:
                early = server.response(write, timeout=0.2)
            except TimeoutError:
                early = None
            assert early is None, early
            plan = server.command("np.plan", {})["result"]
            assert plan["tasks"] == []  # the last committed state
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert server.response(write)["result"]["added"]
        # once it has committed, reads see it
        assert [t["title"] for t in server.command("np.plan", {})["result"]["tasks"]] == ["w"]
        assert took < 30, took  # not behind the write (which could wait 60 s)


def test_one_write_waits_for_the_lock_at_most_the_busy_timeout(tmp_path: Path) -> None:
    """Several writes queue behind one another; each waits at most NP_BUSY_TIMEOUT in
    total and fails with storage_busy, nothing written; reads keep answering."""
    root = tmp_path / "p"
    root.mkdir()
    db = tmp_path / "np.db"
    with RawServer(server_env(db, NP_BUSY_TIMEOUT="2"), root) as server:
        server.initialize(root)
        assert "result" in server.command("np.session.start", {})
        holder = sqlite3.connect(db, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            t0 = time.monotonic()
            reply = server.command("np.task.add", {"tasks": [{"title": "blocked"}]})
            waited = time.monotonic() - t0
            check_reply(reply, 1008, "storage_busy")
            assert 2.0 <= waited < 5, waited  # one timeout, not four
            ids = [server.new_id() for _ in range(3)]
            for i in ids:
                server.send(frame(command(i, "np.task.add", {"tasks": [{"title": "q"}]})))
            assert "result" in server.command("np.plan", {})
            for i in ids:
                check_reply(server.response(i), 1008, "storage_busy")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert server.command("np.plan", {})["result"]["tasks"] == []
        assert server.command("np.task.add", {"tasks": [{"title": "now"}]})["result"]["added"]


def test_the_server_keeps_reading_while_sqlite_answers_busy(tmp_path: Path) -> None:
    """Another process holds the database in exclusive locking mode, so even WAL readers
    get "busy". The change feed polls on the thread that reads messages: a busy poll must
    not stall it (it used to wait the whole busy timeout, again and again)."""
    root = tmp_path / "p"
    root.mkdir()
    db = tmp_path / "np.db"
    with RawServer(server_env(db), root) as first:  # create the database, then leave
        first.initialize(root)
        assert "result" in first.command("np.session.start", {})
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("COMMIT")  # the exclusive lock stays until the connection closes
        with RawServer(server_env(db, NP_BUSY_TIMEOUT="10"), root) as server:
            server.initialize(root)
            worst = 0.0
            t0 = time.monotonic()
            while time.monotonic() - t0 < 4:
                t = time.monotonic()
                reply = server.request("np/nothing", {})  # needs no database
                worst = max(worst, time.monotonic() - t)
                assert reply["error"]["code"] == -32601
            assert worst < 3, worst  # not the 10 s busy timeout
            holder.close()
            assert "result" in server.command("np.plan", {})
    finally:
        holder.close()


def test_a_read_with_a_notice_does_not_wait_for_the_lock(tmp_path: Path) -> None:
    """A read marks "changed since you last looked" seen, which needs the write lock. With
    the lock held elsewhere it answers at once, notice included, unmarked: the notice comes
    again next time, then once the lock is free it is marked and shown no more."""
    root = tmp_path / "p"
    root.mkdir()
    db = tmp_path / "np.db"
    with RawServer(server_env(db, NP_BUSY_TIMEOUT="60"), root) as server:
        server.initialize(root)
        assert "result" in server.command("np.session.start", {})
        run_cli(db, "t", "a", "-t", "from the agent", cwd=root)  # another actor's change
        holder = sqlite3.connect(db, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            t0 = time.monotonic()
            first = server.command("np.plan", {})["result"]
            took = time.monotonic() - t0
            assert first.get("notice"), first
            second = server.command("np.plan", {})["result"]
            assert second.get("notice") == first["notice"]  # not marked: shown again
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert took < 30, took  # not the 60 s busy timeout
        third = server.command("np.plan", {})["result"]
        assert third.get("notice") == first["notice"]  # marked seen now
        assert "notice" not in server.command("np.plan", {})["result"]
