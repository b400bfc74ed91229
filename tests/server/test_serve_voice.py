"""One voice per door: over ``np serve`` no error message and no ``guide`` names a CLI flag or
an ``np`` shell command. Every error kind (1001–1009) and every guide, over the wire, from a
real ``np serve`` subprocess; ``data.detail`` carries the neutral sentence without the hint."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from serve_support import as_dict, server_env, start_client

from server.cli.verbs import VERBS

_VERB_WORDS = sorted({path[0] for path in VERBS}, key=len, reverse=True)
CLI_SPEAK = re.compile(
    r"(?:^|[\s(\"'`])-[a-zA-Z]\b"  # a short flag: -r, -t, -C
    r"|--\w"  # a long flag: --reason, --db
    r"|\bnp (?:" + "|".join(map(re.escape, _VERB_WORDS)) + r")\b"  # np s, np t u, np g s
)


def speaks_cli(text: str) -> list[str]:
    return [m.group(0) for m in CLI_SPEAK.finditer(text)]


def test_the_check_itself_catches_cli_speak() -> None:
    assert speaks_cli('give one with -r/--reason ("reason" over JSON)')
    assert speaks_cli("start one with `np s`")
    assert speaks_cli("np t u -i <id> -s done")
    assert speaks_cli("point --db or NP_DB elsewhere")
    assert not speaks_cli('Give it in the "reason" field. Start one with np.session.start.')
    assert not speaks_cli("This database was written by a newer np (schema 99).")
    assert not speaks_cli("a well-known in-progress task-list")


async def _error(client: Any, command: str, arg: Any) -> tuple[int, str, dict[str, Any]]:
    exc = await client.error(command, arg)
    return exc.code, exc.message, as_dict(exc.data)


async def test_every_error_kind_and_guide_speaks_json(tmp_path: Path) -> None:
    db, project, other = tmp_path / "np.db", tmp_path / "p", tmp_path / "q"
    project.mkdir()
    other.mkdir()
    d = str(project)
    seen: dict[str, list[str]] = {}
    guides: dict[str, str] = {}

    def record(code: int, message: str, data: dict[str, Any]) -> None:
        kind = data["kind"]
        seen.setdefault(kind, []).append(message)
        assert "detail" in data and message.startswith(data["detail"]), (message, data)
        assert not speaks_cli(message), (kind, message)
        assert not speaks_cli(data["detail"]), (kind, data)

    client = await start_client(db, root=project)
    try:
        # 1001 no_active_session, with and without a session elsewhere
        record(*await _error(client, "np.plan", {"dir": d}))
        record(*await _error(client, "np.task.add", {"dir": d, "tasks": [{"title": "x"}]}))
        started = await client.call("np.session.start", {"dir": d})
        guides["start"] = started["guide"]
        # 1002 session_already_active
        record(*await _error(client, "np.session.start", {"dir": d}))
        # 1004 goal_not_set
        change = {"dir": d, "title": "t", "reason": "r"}
        record(*await _error(client, "np.goal.change", change))
        guides["resume_no_goal"] = (await client.call("np.session.resume", {"dir": d}))["guide"]
        # invalid_argument: a blank description, unknown fields, a bad status, a bad sid,
        # a missing directory, a wrong shape, an unknown command
        record(*await _error(client, "np.goal.set", {"dir": d, "title": "t", "description": " "}))
        record(*await _error(client, "np.goal.set", {"dir": d, "titel": "t"}))
        goal = {"dir": d, "title": "Goal", "description": "Issue 1: files a.py"}
        guides["goal_set"] = (await client.call("np.goal.set", goal))["guide"]
        # 1003 goal_already_set
        record(*await _error(client, "np.goal.set", goal))
        guides["resume_no_tasks"] = (await client.call("np.session.resume", {"dir": d}))["guide"]
        added = await client.call("np.task.add", {"dir": d, "tasks": [{"title": "one"}]})
        guides["tasks_added"] = added["guide"]
        guides["resume"] = (await client.call("np.session.resume", {"dir": d}))["guide"]
        task = added["added"][0]
        # 1005 task_not_found
        update = {"dir": d, "updates": [{"id": "ffffff", "status": "completed"}]}
        record(*await _error(client, "np.task.update", update))
        # 1006 reason_required (batch and per item), also for edits and goal changes
        failed = {"dir": d, "updates": [{"id": task, "status": "failed"}]}
        record(*await _error(client, "np.task.update", failed))
        record(*await _error(client, "np.task.edit", {"dir": d, "id": task, "title": "x"}))
        record(*await _error(client, "np.goal.change", {"dir": d, "title": "x"}))
        bad_status = {"dir": d, "updates": [{"id": task, "status": "finished"}]}
        record(*await _error(client, "np.task.update", bad_status))
        record(*await _error(client, "np.task.add", {"dir": d, "tasks": [{"title": " "}]}))
        record(*await _error(client, "np.plan", {"sid": "01JNOTASESSION000000000000"}))
        record(*await _error(client, "np.plan", {"dir": str(tmp_path / "gone")}))
        record(*await _error(client, "np.events", {"dir": d, "limit": 0}))
        record(*await _error(client, "np.export", {"dir": d, "format": "pdf"}))
        record(*await _error(client, "np.plan", [1, 2]))
        record(*await _error(client, "np.nothing", {}))
        archived = await client.call("np.session.archive", {"dir": d})
        record(*await _error(client, "np.plan", {"dir": d}))
        assert archived["session"]["state"] == "archived"

        # 1008 storage_busy: another process holds the write lock
        busy = await start_client(db, root=other, env=server_env(db, NP_BUSY_TIMEOUT="0.1"))
        holder = sqlite3.connect(db, timeout=0.1, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            record(*await _error(busy, "np.session.start", {}))
        finally:
            holder.close()
            await busy.close()
    finally:
        await client.close()

    # 1009 storage_error: not a database, and a newer schema
    garbage_db, newer_db = tmp_path / "garbage.db", tmp_path / "newer.db"
    garbage_db.write_bytes(b"this is not an sqlite file\n" * 400)
    conn = sqlite3.connect(newer_db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    for path in (garbage_db, newer_db):
        broken = await start_client(path, root=project)
        try:
            record(*await _error(broken, "np.session.start", {}))
            record(*await _error(broken, "np.session.list", {}))
        finally:
            await broken.close()

    kinds = {
        "no_active_session",
        "session_already_active",
        "goal_already_set",
        "goal_not_set",
        "task_not_found",
        "reason_required",
        "invalid_argument",
        "storage_busy",
        "storage_error",
    }
    assert set(seen) == kinds, sorted(seen)
    assert set(guides) == {
        "start",
        "goal_set",
        "tasks_added",
        "resume",
        "resume_no_goal",
        "resume_no_tasks",
    }
    for name, text in guides.items():
        assert not speaks_cli(text), (name, speaks_cli(text), text)
        assert "np." in text, (name, text)  # names np.* commands instead
    # The JSON door names fields and np.* commands as its next step.
    assert any('"reason"' in m for m in seen["reason_required"]), seen["reason_required"]
    assert any("np.session.start" in m for m in seen["no_active_session"])
    assert any("np.session.resume" in m for m in seen["session_already_active"])
