"""Every ``np.*`` command end to end through a real ``np serve`` (pytest-lsp), and the
results against the CLI's ``--json`` output for the same state."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from serve_support import COMMANDS, Shared, as_dict, run_cli, server_env, start_client

pytestmark = pytest.mark.asyncio(loop_scope="module")

PLAN_KEYS = {"session", "goal", "tasks", "counts", "text", "changes"}


async def build_plan(shared: Shared, project: Path) -> dict[str, Any]:
    """A session with a goal and three tasks in different states, all through the server."""
    c, d = shared.client, str(project)
    await c.call("np.session.start", {"dir": d})
    await c.call("np.goal.set", {"dir": d, "title": "Ship it", "description": "All of it."})
    added = await c.call(
        "np.task.add",
        {"dir": d, "tasks": [{"title": "one", "description": "first"}, {"title": "two"}]},
    )
    a, b = added["added"]
    await c.call("np.task.update", {"dir": d, "updates": [{"id": a, "status": "completed"}]})
    await c.call(
        "np.task.update",
        {"dir": d, "updates": [{"id": b, "status": "cancelled"}], "reason": "not needed"},
    )
    await c.call("np.task.add", {"dir": d, "tasks": [{"title": "three"}]})
    return added


async def test_initialize_advertises_every_command(shared: Shared) -> None:
    init = shared.client.init
    assert init is not None and init.server_info is not None
    assert init.server_info.name == "np"
    provider = init.capabilities.execute_command_provider
    assert provider is not None
    assert sorted(provider.commands) == sorted(COMMANDS)


async def test_a_whole_session_through_every_command(shared: Shared, project: Path) -> None:
    c, d = shared.client, str(project)
    canonical = os.path.realpath(project)

    started = await c.call("np.session.start", {"dir": d})
    assert set(started) == PLAN_KEYS | {"guide"}
    assert started["session"]["dir"] == canonical
    assert started["session"]["state"] == "active"
    assert started["goal"] is None and started["tasks"] == []
    sid = started["session"]["sid"]

    resumed = await c.call("np.session.resume", {"dir": d})
    assert set(resumed) == PLAN_KEYS | {"guide"}
    assert resumed["session"]["sid"] == sid

    goal = await c.call("np.goal.set", {"dir": d, "title": "Goal", "description": "Why."})
    assert set(goal) == PLAN_KEYS | {"guide"}
    assert goal["goal"]["title"] == "Goal" and goal["goal"]["description"] == "Why."

    changed = await c.call(
        "np.goal.change", {"dir": d, "title": "Goal 2", "reason": "operator asked"}
    )
    assert set(changed) == PLAN_KEYS
    assert changed["goal"]["title"] == "Goal 2"

    added = await c.call(
        "np.task.add",
        {"dir": d, "tasks": [{"title": "write", "description": "the code"}, {"title": "test"}]},
    )
    assert set(added) == PLAN_KEYS | {"added", "guide"}
    assert len(added["added"]) == 2
    assert [t["title"] for t in added["tasks"]] == ["write", "test"]
    first, second = added["added"]

    updated = await c.call(
        "np.task.update",
        {
            "dir": d,
            "updates": [
                {"id": first, "status": "in_progress"},
                {"id": second, "status": "failed", "reason": "flaky"},
            ],
        },
    )
    assert set(updated) == PLAN_KEYS
    assert {t["id"]: t["status"] for t in updated["tasks"]} == {
        first: "in_progress",
        second: "failed",
    }
    assert updated["counts"]["in_progress"] == 1 and updated["counts"]["failed"] == 1

    edited = await c.call(
        "np.task.edit", {"dir": d, "id": first, "title": "write more", "reason": "scope"}
    )
    assert edited["tasks"][0]["title"] == "write more"

    listed = await c.call("np.task.list", {"dir": d, "status": ["in_progress"]})
    assert [t["id"] for t in listed["tasks"]] == [first]
    by_sid = await c.call("np.task.list", {"sid": sid})
    assert len(by_sid["tasks"]) == 2

    plan = await c.call("np.plan", {"dir": d})
    assert set(plan) == PLAN_KEYS
    assert plan == await c.call("np.plan", {"sid": sid})
    assert "Goal 2" in plan["text"]

    events = await c.call("np.events", {"dir": d})
    types_seen = [e["type"] for e in events["events"]]
    assert types_seen[0] == "session_started"
    assert {"goal_set", "goal_updated", "task_added", "task_status_changed", "task_updated"} <= set(
        types_seen
    )
    assert [e["seq"] for e in events["events"]] == list(range(1, len(types_seen) + 1))
    assert all(e["cmd"].startswith("lsp:np.") and "(pytest)" in e["cmd"] for e in events["events"])
    later = await c.call("np.events", {"sid": sid, "after_seq": 3, "limit": 2})
    assert [e["seq"] for e in later["events"]] == [4, 5]

    md = await c.call("np.export", {"dir": d, "format": "markdown"})
    assert md["format"] == "markdown" and "Goal 2" in md["content"]
    js = await c.call("np.export", {"sid": sid, "format": "json"})
    assert js["format"] == "json" and '"np_export"' in js["content"]

    sessions = await c.call("np.session.list", {"state": "all"})
    assert sid in [s["sid"] for s in sessions["sessions"]]

    archived = await c.call("np.session.archive", {"dir": d})
    assert archived["session"]["sid"] == sid and archived["session"]["state"] == "archived"
    active = await c.call("np.session.list", {})
    assert sid not in [s["sid"] for s in active["sessions"]]
    again = await c.call("np.session.archive", {"sid": sid})  # idempotent
    assert again["session"]["state"] == "archived"


async def test_no_argument_and_empty_object_mean_the_same(shared: Shared) -> None:
    c = shared.client
    listed = await c.call("np.session.list")
    assert listed == await c.call("np.session.list", {})
    assert isinstance(listed["sessions"], list)


async def test_results_equal_the_cli_json(shared: Shared, project: Path) -> None:
    await build_plan(shared, project)
    c, d, db = shared.client, str(project), shared.db

    assert await c.call("np.plan", {"dir": d}) == run_cli(db, "p", cwd=project)
    # The same result, except the guide: each door names its own next step.
    resumed, cli_resumed = (
        await c.call("np.session.resume", {"dir": d}),
        run_cli(db, "r", cwd=project),
    )
    assert "np.task.update" in resumed.pop("guide") and "np t u" in cli_resumed.pop("guide")
    assert resumed == cli_resumed
    assert await c.call("np.task.list", {"dir": d}) == run_cli(db, "t", cwd=project)
    assert await c.call("np.task.list", {"dir": d, "status": ["pending"]}) == run_cli(
        db, "t", "-s", "pending", cwd=project
    )
    # `np log` is newest first, 50 at most.
    assert await c.call("np.events", {"dir": d, "newest_first": True, "limit": 50}) == run_cli(
        db, "log", cwd=project
    )
    assert await c.call("np.events", {"dir": d, "newest_first": True, "limit": 2}) == run_cli(
        db, "log", "-n", "2", cwd=project
    )
    assert await c.call("np.export", {"dir": d, "format": "json"}) == run_cli(
        db, "export", "--format", "json", cwd=project
    )
    assert await c.call("np.export", {"dir": d}) == run_cli(db, "export", cwd=project)
    assert await c.call("np.session.list", {"state": "all"}) == run_cli(
        db, "ls", "--all", cwd=project
    )


async def test_cli_writes_are_visible_to_the_server(shared: Shared, project: Path) -> None:
    c, d = shared.client, str(project)
    run_cli(shared.db, "s", cwd=project)
    run_cli(shared.db, "g", "s", "-t", "From the CLI", "-d", "desc", cwd=project)
    plan = await c.call("np.plan", {"dir": d})
    assert plan["goal"]["title"] == "From the CLI"
    assert plan == run_cli(shared.db, "p", cwd=project)


async def test_dir_walks_up_to_the_session_of_a_parent(shared: Shared, project: Path) -> None:
    c = shared.client
    await c.call("np.session.start", {"dir": str(project)})
    sub = project / "src" / "deep"
    sub.mkdir(parents=True)
    plan = await c.call("np.plan", {"dir": str(sub)})
    assert plan["session"]["dir"] == os.path.realpath(project)


# -- the dir default -------------------------------------------------------------------------


async def test_dir_defaults_to_the_workspace_then_the_server_cwd(tmp_path: Path) -> None:
    """rootUri; the first workspace folder (over rootUri); neither: the server's cwd. The
    three servers start concurrently (each start costs about a second)."""
    db = tmp_path / "np.db"
    first, other, cwd = tmp_path / "first project", tmp_path / "other", tmp_path / "cwd"
    for d in (first, other, cwd):  # "first project" has a space: URI-encoded on the wire
        d.mkdir()
    by_root, by_folder, by_cwd = await asyncio.gather(
        start_client(db, root=first),
        start_client(db, root=other, folders=[first, other]),
        start_client(db, cwd=cwd, env=server_env(db)),
    )
    try:
        started = await by_root.call("np.session.start", {})
        assert started["session"]["dir"] == os.path.realpath(first)
        assert (await by_root.call("np.plan"))["session"]["sid"] == started["session"]["sid"]
        assert (await by_folder.call("np.plan"))["session"]["sid"] == started["session"]["sid"]
        # an explicit dir still wins
        other_start = await by_folder.call("np.session.start", {"dir": str(other)})
        assert other_start["session"]["dir"] == os.path.realpath(other)
        from_cwd = await by_cwd.call("np.session.start")
        assert from_cwd["session"]["dir"] == os.path.realpath(cwd)
    finally:
        await asyncio.gather(by_root.close(), by_folder.close(), by_cwd.close())
    assert by_root.returncode == by_folder.returncode == by_cwd.returncode == 0


async def test_results_are_plain_snake_case_json(shared: Shared, project: Path) -> None:
    await build_plan(shared, project)
    plan = as_dict(await shared.client.call("np.plan", {"dir": str(project)}))
    task = plan["tasks"][0]
    assert set(task) == {
        "id",
        "title",
        "description",
        "status",
        "created_at",
        "updated_at",
        "reason",
        "after",
        "claimed_by",
        "claim_expires_at",
        "ask",
    }
    assert set(plan["session"]) >= {"sid", "dir", "state", "created_at", "last_updated_at"}
    assert "archived_at" in plan["session"]  # None values are kept, not dropped
