"""Every application error code of SPEC §5 (1001–1009) as a JSON-RPC error over the wire,
with ``data.kind``, a readable message and nothing leaked."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

import pytest
from serve_support import Shared, check_exc, server_env, start_client

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def started(shared: Shared, project: Path) -> str:
    result = await shared.client.call("np.session.start", {"dir": str(project)})
    return str(result["session"]["sid"])


async def test_1001_no_active_session(shared: Shared, project: Path) -> None:
    for command in ("np.plan", "np.session.resume", "np.goal.set", "np.task.add", "np.events"):
        arg = {"dir": str(project)}
        if command == "np.goal.set":
            arg |= {"title": "t", "description": "d"}
        if command == "np.task.add":
            arg |= {"tasks": [{"title": "t"}]}
        exc = await shared.client.error(command, arg)
        data = check_exc(exc, 1001, "no_active_session")
        assert data["dir"] == os.path.realpath(project)


async def test_1002_session_already_active(shared: Shared, project: Path) -> None:
    sid = await started(shared, project)
    exc = await shared.client.error("np.session.start", {"dir": str(project)})
    data = check_exc(exc, 1002, "session_already_active")
    assert data["session"]["sid"] == sid
    assert data["session"]["state"] == "active"


async def test_1003_goal_already_set(shared: Shared, project: Path) -> None:
    await started(shared, project)
    goal = {"dir": str(project), "title": "g", "description": "d"}
    await shared.client.call("np.goal.set", goal)
    check_exc(await shared.client.error("np.goal.set", goal), 1003, "goal_already_set")


async def test_1004_goal_not_set(shared: Shared, project: Path) -> None:
    await started(shared, project)
    exc = await shared.client.error(
        "np.goal.change", {"dir": str(project), "title": "new", "reason": "asked"}
    )
    check_exc(exc, 1004, "goal_not_set")


async def test_1005_task_not_found(shared: Shared, project: Path) -> None:
    await started(shared, project)
    c, d = shared.client, str(project)
    exc = await c.error(
        "np.task.update", {"dir": d, "updates": [{"id": "zz9", "status": "completed"}]}
    )
    assert check_exc(exc, 1005, "task_not_found")["ids"] == ["zz9"]
    exc = await c.error("np.task.edit", {"dir": d, "id": "zz8", "title": "x", "reason": "r"})
    assert check_exc(exc, 1005, "task_not_found")["ids"] == ["zz8"]


async def test_1006_reason_required(shared: Shared, project: Path) -> None:
    await started(shared, project)
    c, d = shared.client, str(project)
    await c.call("np.goal.set", {"dir": d, "title": "g", "description": "d"})
    (task,) = (await c.call("np.task.add", {"dir": d, "tasks": [{"title": "t"}]}))["added"]
    for command, arg in [
        ("np.goal.change", {"dir": d, "title": "g2"}),
        ("np.goal.change", {"dir": d, "title": "g2", "reason": "   "}),
        ("np.task.update", {"dir": d, "updates": [{"id": task, "status": "failed"}]}),
        ("np.task.update", {"dir": d, "updates": [{"id": task, "status": "cancelled"}]}),
        ("np.task.edit", {"dir": d, "id": task, "title": "t2"}),
    ]:
        data = check_exc(await c.error(command, arg), 1006, "reason_required")
        assert data["field"] == "reason"
    # nothing changed
    plan = await c.call("np.plan", {"dir": d})
    assert plan["goal"]["title"] == "g" and plan["tasks"][0]["status"] == "pending"


async def test_1007_invalid_argument_names_the_field(shared: Shared, project: Path) -> None:
    await started(shared, project)
    c, d = shared.client, str(project)
    cases = [
        ("np.task.update", {"dir": d, "updates": [{"id": "a", "status": "done-ish"}]}, "status"),
        ("np.goal.set", {"dir": d, "title": "", "description": "d"}, "title"),
        ("np.goal.set", {"dir": d, "title": "t"}, "description"),
        ("np.task.add", {"dir": d, "tasks": []}, "tasks"),
        ("np.session.list", {"state": "sleeping"}, "state"),
        ("np.events", {"dir": d, "limit": 0}, "limit"),
        ("np.export", {"dir": d, "format": "pdf"}, "format"),
        ("np.plan", {"sid": "nope"}, "sid"),
        ("np.session.start", {"dir": str(project / "missing")}, "dir"),
        ("np.plan", {"dir": d, "bogus": 1}, "bogus"),
    ]
    for command, arg, field in cases:
        data = check_exc(await c.error(command, arg), 1007, "invalid_argument")
        assert data["field"] == field, (command, arg, data)


async def test_a_blank_task_or_session_id_is_refused_not_looked_up(
    shared: Shared, project: Path
) -> None:
    """Issue 18: an empty id was looked up ("No task with id  in this session"), and an
    empty sid taken as none given. Now each is invalid_argument with its own sentence."""
    await started(shared, project)
    c, d = shared.client, str(project)
    cases = [
        ("np.task.update", {"dir": d, "updates": [{"id": "", "status": "completed"}]}, "id"),
        ("np.task.update", {"dir": d, "updates": [{"id": " ", "status": "failed"}]}, "id"),
        ("np.task.edit", {"dir": d, "id": "", "title": "x", "reason": "r"}, "id"),
        ("np.task.list", {"dir": d, "ids": ["", "abc"]}, "ids"),
        ("np.plan", {"sid": ""}, "sid"),
        ("np.events", {"sid": " "}, "sid"),
        ("np.session.archive", {"dir": d, "sid": ""}, "sid"),
        ("np.session.move", {"dir": d, "sid": "", "reason": "r"}, "sid"),
    ]
    for command, arg, field in cases:
        exc = await c.error(command, arg)
        data = check_exc(exc, 1007, "invalid_argument")
        assert data["field"] == field, (command, arg, data)
        assert "is empty" in exc.message and "No task with id" not in exc.message
    plan = await c.call("np.plan", {"dir": d})
    assert plan["session"]["state"] == "active"  # nothing was archived or moved


async def test_unknown_command_is_invalid_argument(shared: Shared) -> None:
    exc = await shared.client.error("np.nope", {})
    data = check_exc(exc, 1007, "invalid_argument")
    assert data["field"] == "command"
    assert "np.plan" in exc.message  # lists the commands
    exc = await shared.client.error("x" * 2_000_000)
    check_exc(exc, 1007, "invalid_argument")


async def test_unknown_method_is_method_not_found(shared: Shared) -> None:
    from pygls.exceptions import JsonRpcException

    with pytest.raises(JsonRpcException) as info:
        await shared.client.lsp.protocol.send_request_async("np/nothing", {"a": 1})
    assert info.value.code == -32601
    # the server is still fine
    assert "sessions" in await shared.client.call("np.session.list", {})


# -- storage errors: servers of their own -------------------------------------------------------


async def test_1008_storage_busy_while_another_process_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()
    # NP_BUSY_TIMEOUT is the whole wait of one write for the lock (it used to be multiplied
    # by about four by retries, each waiting the full timeout).
    client = await start_client(db, root=project, env=server_env(db, NP_BUSY_TIMEOUT="2"))
    holder = None
    try:
        await client.call("np.session.start", {})
        holder = sqlite3.connect(db, timeout=0.1, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        t0 = time.monotonic()
        exc = await client.error("np.task.add", {"tasks": [{"title": "blocked"}]})
        waited = time.monotonic() - t0
        check_exc(exc, 1008, "storage_busy")
        assert "try" in exc.message.lower()
        assert 2.0 <= waited < 5, waited
        # reads never need the write lock
        assert (await client.call("np.plan"))["tasks"] == []
        holder.execute("ROLLBACK")
        # retryable: the same request now succeeds
        added = await client.call("np.task.add", {"tasks": [{"title": "blocked"}]})
        assert len(added["added"]) == 1
    finally:
        if holder is not None:
            holder.close()
        await client.close()
    assert client.returncode == 0


async def test_1009_storage_error_not_a_database_or_a_newer_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two servers, started together: one on a file that is not SQLite, one on a database
    with ``PRAGMA user_version = 99``. Every request gets 1009; the file is untouched; the
    server survives, logs the broken database once (not at every 100 ms poll) and recovers
    when the file is fixed."""
    garbage_db, newer_db, project = tmp_path / "garbage.db", tmp_path / "newer.db", tmp_path / "p"
    project.mkdir()
    garbage_db.write_bytes(b"this is not an sqlite file\n" * 400)
    before = garbage_db.read_bytes()
    conn = sqlite3.connect(newer_db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    garbage, newer = await asyncio.gather(
        start_client(garbage_db, root=project), start_client(newer_db, root=project)
    )
    try:
        for command in ("np.session.start", "np.plan", "np.session.list"):
            exc = await garbage.error(command, {})
            check_exc(exc, 1009, "storage_error")
            assert str(garbage_db) not in exc.message
        assert garbage_db.read_bytes() == before  # left untouched

        exc = await newer.error("np.session.list", {})
        data = check_exc(exc, 1009, "storage_error")
        assert data.get("schema_version") == 99
        assert "newer np" in exc.message

        await asyncio.sleep(0.6)  # several polls of the change feed meet the same error
        assert (await newer.error("np.plan", {})).code == 1009

        # the server survives, and recovers once the file is fixed
        garbage_db.unlink()
        assert (await garbage.call("np.session.list", {}))["sessions"] == []
        await garbage.call("np.session.start", {})
    finally:
        await asyncio.gather(garbage.close(), newer.close())
    assert garbage.returncode == newer.returncode == 0
    log = capsys.readouterr().err  # pytest-lsp forwards the servers' stderr here
    assert 1 <= log.count("change feed:") <= 4, log  # once per server (plus "usable again")
