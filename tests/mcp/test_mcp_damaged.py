"""np mcp on a damaged database file (F3): a tool that meets the damage answers an error
saying the file is damaged (storage_error), never an internal error."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from mcp_support import error, mcp_client, np_command


async def test_a_damaged_file_is_told_as_damage(tmp_path: Path) -> None:
    db, project = tmp_path / "np.db", tmp_path / "proj"
    project.mkdir()
    env = {**os.environ, "NP_DB": str(db)}
    long = "x" * 3000
    batches = (
        ["t", "a", *[a for j in range(10) for a in ("-t", f"t{b}{j}", "-d", long)]]
        for b in range(3)
    )
    for args in (["s"], *batches):
        subprocess.run([*np_command(), *args], cwd=project, env=env, check=True, timeout=60)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    page = conn.execute(
        "SELECT min(pageno) FROM dbstat WHERE name = 'tasks' AND pagetype = 'leaf'"
    ).fetchone()[0]
    conn.close()
    with open(db, "r+b") as f:
        f.seek((page - 1) * size)
        f.write(os.urandom(size))
    async with mcp_client(db, directory=project) as client:
        text = await error(client, "np_plan")
        assert "storage_error" in text and "damaged" in text, text
        assert "internal" not in text, text
