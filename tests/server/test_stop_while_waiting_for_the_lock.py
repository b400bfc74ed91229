"""A server stopped (SIGTERM) while a write waits for another process's SQLite write lock
answers that write at once — ``storage_busy``, nothing written — and exits, instead of
waiting out the whole busy timeout (600 s here) first. ``np serve`` and ``np mcp``.

A real lock holder (``BEGIN IMMEDIATE``), real servers and a real signal, sent once the
server's write thread sleeps in SQLite's busy handler (``tests.support.waits_in_sqlite``). The 30 s
timeouts only turn the old behaviour into a failure; nothing is timed."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from serve_support import RawServer, frame, server_env

from tests.support import np_command, waits_in_sqlite

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")


def _tasks(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM tasks").fetchone()[0])
    finally:
        conn.close()


def test_np_serve(db_path: Path, workdir: Path) -> None:
    with RawServer(server_env(db_path, NP_BUSY_TIMEOUT="600"), workdir) as server:
        server.initialize(workdir)
        assert "result" in server.command("np.session.start", {"dir": str(workdir)})
        holder = sqlite3.connect(db_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            msg_id = server.new_id()
            add = {"dir": str(workdir), "tasks": [{"title": "x"}]}
            params = {"command": "np.task.add", "arguments": [add]}
            request = {"jsonrpc": "2.0", "id": msg_id, "method": "workspace/executeCommand"}
            server.send(frame({**request, "params": params}))
            waits_in_sqlite(server.proc)
            server.proc.send_signal(signal.SIGTERM)
            answer = server.response(msg_id, timeout=30)
            assert server.proc.wait(30) == 128 + signal.SIGTERM
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert answer["error"]["data"]["kind"] == "storage_busy", answer
    assert "nothing was written" in answer["error"]["message"], answer
    assert _tasks(db_path) == 0


def test_np_mcp(db_path: Path, workdir: Path, np_env: dict[str, str]) -> None:
    pytest.importorskip("mcp")
    assert subprocess.run([*np_command(), "s"], cwd=workdir, env=np_env).returncode == 0
    proc = subprocess.Popen(
        [*np_command(), "mcp", "-C", str(workdir)],
        cwd=workdir,
        env={**np_env, "NP_BUSY_TIMEOUT": "600"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ]
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        for m in messages:
            proc.stdin.write((json.dumps(m) + "\n").encode())
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["id"] == 1
        add = {"name": "np_add", "arguments": {"tasks": [{"title": "x"}]}}
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": add}
        proc.stdin.write((json.dumps(call) + "\n").encode())
        proc.stdin.flush()
        waits_in_sqlite(proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        holder.execute("ROLLBACK")
        holder.close()
    answers = [json.loads(line) for line in out.splitlines()]
    assert [a["id"] for a in answers] == [2], (answers, err)
    result = answers[0]["result"]
    assert result["isError"] is True and "storage_busy" in result["content"][0]["text"], result
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert _tasks(db_path) == 0
