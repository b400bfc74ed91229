"""np serve on a damaged database file (F3): every request that meets the damage gets
storage_error 1009 with a sentence saying the file is damaged, never -32603 internal."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from serve_support import check_exc, np_command, server_env, start_client

pytestmark = pytest.mark.asyncio(loop_scope="function")

LONG = "x" * 3000


def _np(db: Path, project: Path, *args: str) -> None:
    subprocess.run(
        [*np_command(), *args],
        cwd=project,
        env=server_env(db),
        check=True,
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


async def test_reads_on_a_damaged_file_are_storage_errors(tmp_path: Path) -> None:
    db, project = tmp_path / "np.db", tmp_path / "proj"
    project.mkdir()
    _np(db, project, "s")
    for b in range(3):
        _np(db, project, "t", "a", *[a for j in range(10) for a in ("-t", f"t{b}{j}", "-d", LONG)])
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    page = conn.execute(
        "SELECT min(pageno) FROM dbstat WHERE name = 'tasks' AND pagetype = 'leaf'"
    ).fetchone()[0]
    conn.close()
    with open(db, "r+b") as f:  # the oldest tasks' page: garbage
        f.seek((page - 1) * size)
        f.write(os.urandom(size))
    client = await start_client(db, root=project)
    try:
        for command in ("np.task.list", "np.plan", "np.session.resume"):
            exc = await client.error(command, {"dir": str(project)})
            data = check_exc(exc, 1009, "storage_error")
            assert data["cause"] == "corrupt", data
            assert "damaged" in exc.message and "backup" in exc.message, exc.message
            assert "nternal error" not in exc.message, exc.message
        # the server survives the damage and still answers what it can read
        sessions = await client.call("np.session.list", {})
        assert len(sessions["sessions"]) == 1
    finally:
        await client.close()
    assert client.returncode == 0
