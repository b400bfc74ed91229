"""One voice per door, over MCP: every error kind (1001–1009) and every guide, from a real
``np mcp``, speaks in tool names and arguments — never a CLI flag or an ``np`` shell command —
and every error reads ``Failed (kind): sentence``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mcp_support import CLI_SYNTAX, failure, mcp_client, task_ids, text_of

TOOL = ("np_start", "np_resume", "np_plan", "np_goal", "np_add", "np_update", "np_edit")


def test_the_check_catches_cli_speak() -> None:
    for text in ("give one with -r/--reason", "start one with `np s`", "np t u -i x", "--db"):
        assert CLI_SYNTAX.search(text), text
    for text in ('Pass "reason".', "Start one with np_start.", "a well-known in-progress list"):
        assert not CLI_SYNTAX.search(text), text


async def test_every_error_kind_and_guide_speaks_mcp(tmp_path: Path) -> None:
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()
    seen: dict[str, list[str]] = {}
    guides: list[str] = []

    async def fails(client: object, tool: str, args: dict[str, object]) -> str:
        result = await client.call_tool(tool, args)  # type: ignore[attr-defined]
        text = text_of(result)
        assert result.is_error, text
        kind, sentence = failure(text)
        assert kind.isidentifier() and sentence, text
        assert not CLI_SYNTAX.search(text), text
        seen.setdefault(kind, []).append(text)
        return text

    async def works(client: object, tool: str, args: dict[str, object]) -> str:
        result = await client.call_tool(tool, args)  # type: ignore[attr-defined]
        text = text_of(result)
        assert not result.is_error, text
        assert not CLI_SYNTAX.search(text), text
        return text

    async with mcp_client(db, directory=project) as client:
        assert "np_start" in await fails(client, "np_plan", {})
        guides.append(await works(client, "np_start", {}))
        assert "np_resume" in await fails(client, "np_start", {})
        assert "np_goal" in await fails(client, "np_goal", {"title": "t", "reason": "r"})
        guides.append(await works(client, "np_resume", {}))
        await fails(client, "np_goal", {"title": "t", "description": " "})
        await fails(client, "np_goal", {"titel": "t"})
        guides.append(await works(client, "np_goal", {"title": "G", "description": "Issue 1"}))
        assert "reason" in await fails(client, "np_goal", {"title": "G", "description": "x"})
        guides.append(await works(client, "np_resume", {}))
        added = await works(client, "np_add", {"tasks": [{"title": "one"}]})
        guides.append(added)
        (task,) = task_ids(added)
        guides.append(await works(client, "np_resume", {}))
        missing = {"updates": [{"id": "ffffff", "status": "completed"}]}
        assert "np_plan" in await fails(client, "np_update", missing)
        assert '"reason"' in await fails(
            client, "np_update", {"updates": [{"id": task, "status": "failed"}]}
        )
        await fails(client, "np_edit", {"id": task, "title": "x"})
        await fails(client, "np_update", {"updates": [{"id": task, "status": "finished"}]})
        await fails(client, "np_add", {"tasks": [{"title": " "}]})
        await fails(client, "np_plan", {"dir": str(tmp_path / "gone")})

    # storage_busy: another process holds the write lock past np's busy timeout
    other = tmp_path / "q"
    other.mkdir()
    holder = sqlite3.connect(db, timeout=0.1, isolation_level=None)
    try:
        async with mcp_client(db, directory=other, env={"NP_BUSY_TIMEOUT": "0.1"}) as client:
            holder.execute("BEGIN IMMEDIATE")
            assert "again" in await fails(client, "np_start", {})  # the store says so
    finally:
        holder.close()

    # storage_error: not a database
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not an sqlite file\n" * 400)
    async with mcp_client(garbage, directory=project) as client:
        await fails(client, "np_start", {})
        await fails(client, "np_plan", {})

    assert set(seen) == {
        "no_active_session",
        "session_already_active",
        "goal_already_set",
        "goal_not_set",
        "task_not_found",
        "reason_required",
        "invalid_argument",
        "storage_busy",
        "storage_error",
    }, sorted(seen)
    for text in guides:  # each guide names the tool to call next
        assert any(tool in text for tool in TOOL), text
