"""Readers never wait for writers over MCP either: with another process holding SQLite's
write lock, a real ``np mcp`` answers ``np_plan``/``np_resume`` at once while an
``np_add`` waits for the lock, then commits once it is free."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from test_mcp_hostile import RawMcp, tool_result


def test_reads_answer_while_a_write_waits_for_the_lock(tmp_path: Path) -> None:
    project, db = tmp_path / "p", tmp_path / "np.db"
    project.mkdir()
    server = RawMcp(db, project)
    try:
        assert tool_result(server.call("np_start", {})) is not None
        holder = sqlite3.connect(db, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            server.next_id += 1
            write = server.next_id
            server.send(
                {
                    "jsonrpc": "2.0",
                    "id": write,
                    "method": "tools/call",
                    "params": {"name": "np_add", "arguments": {"tasks": [{"title": "w"}]}},
                }
            )
            time.sleep(0.2)
            t0 = time.monotonic()
            for tool in ("np_plan", "np_resume"):
                found = tool_result(server.call(tool, {}))
                assert found is not None and not found[0], (tool, found)
            took = time.monotonic() - t0
            assert server.replies.empty()  # the write is still waiting for the lock
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        added = tool_result(server.wait(write))
        assert added is not None and not added[0], added
        assert " w" in json.dumps(added[1])
        assert took < 3, took  # not behind the write (which waits up to NP_BUSY_TIMEOUT)
    finally:
        server.close()
