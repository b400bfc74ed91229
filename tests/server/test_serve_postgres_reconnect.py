"""``np serve`` on PostgreSQL after the database dropped its connections (a server restart,
a failover, an idle-session kill): the next request reconnects and is answered, never
failed with a storage error, and a write is applied exactly once (F6); and its actor names
the machine (F4)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
from pg_support import create_database, drop_database
from serve_support import server_env, start_client

from tests.support import np_command

pytestmark = pytest.mark.asyncio


def cut_connections(server: str, db: str) -> int:
    """Terminate every connection to ``db`` (np serve's store and feed connections)."""
    from urllib.parse import urlsplit

    import psycopg

    name = urlsplit(db).path.lstrip("/")
    with psycopg.connect(server, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


async def test_requests_after_the_connection_dropped_are_answered(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server = request.getfixturevalue("pg_server")
    db = create_database(server)
    project = tmp_path / "proj"
    project.mkdir()
    client = await start_client(db, env=server_env(db, NP_SCOPE="reconnect"), cwd=project)
    try:
        d = {"dir": str(project)}
        await client.call("np.session.start", d)
        await client.call("np.task.add", {**d, "tasks": [{"title": "before"}]})
        assert cut_connections(server, db) >= 1
        listed = await client.call("np.task.list", d)  # a read: reconnects, answered
        assert [t["title"] for t in listed["tasks"]] == ["before"]
        assert cut_connections(server, db) >= 1
        await client.call("np.task.add", {**d, "tasks": [{"title": "after"}]})  # a write
        listed = await client.call("np.task.list", d)
        assert [t["title"] for t in listed["tasks"]] == ["before", "after"]  # once, not twice
    finally:
        await client.close()
        drop_database(server, db)


async def test_the_actor_on_postgresql_names_the_machine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """F4 for np serve: two machines' editors (both "pytest" here) sharing a plan must be
    told apart, so each is told of the other's changes."""
    server = request.getfixturevalue("pg_server")
    db = create_database(server)
    project = tmp_path / "proj"
    project.mkdir()
    client = await start_client(db, env=server_env(db, NP_SCOPE="actor"), cwd=project)
    try:
        await client.call("np.session.start", {"dir": str(project)})
    finally:
        await client.close()
    try:
        proc = subprocess.run(
            [*np_command(), "log", "--json"],
            cwd=project,
            env={**os.environ, "NP_DB": db, "NP_SCOPE": "actor"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        actors = [e["actor"] for e in json.loads(proc.stdout)["events"]]
        assert actors == [f"pytest@{socket.gethostname()}"]
    finally:
        drop_database(server, db)
