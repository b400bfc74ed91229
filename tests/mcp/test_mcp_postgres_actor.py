"""np mcp on PostgreSQL: the actor names the machine (``<client>@<host name>``), so two
machines' models sharing a plan through one scope are told of each other's changes (F4)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

from mcp_support import CLIENT_NAME, mcp_client, np_command, ok
from pg_support import create_database, drop_database


async def test_mcp_actor_on_postgresql_names_the_machine(pg_server: str, tmp_path: Path) -> None:
    db = create_database(pg_server)
    project = tmp_path / "project"
    project.mkdir()
    env = {"NP_SCOPE": "mcp-actor"}
    try:
        async with mcp_client(db, directory=project, env=env) as client:  # type: ignore[arg-type]
            await ok(client, "np_start", {})
        proc = subprocess.run(
            [*np_command(), "log", "--json"],
            cwd=project,
            env={**os.environ, "NP_DB": db, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        events: list[dict[str, Any]] = json.loads(proc.stdout)["events"]
        assert [e["actor"] for e in events] == [f"{CLIENT_NAME}@{socket.gethostname()}"]
    finally:
        drop_database(pg_server, db)
