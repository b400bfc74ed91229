"""A committed change is never reported as a failure over MCP: when building a write's result
fails after its unit of work committed, the result says it was saved and not to repeat it (and
is not an error, which a model would retry). In process, with the SDK's in-memory client, to
make the result fail on purpose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp_support import Client, text_of

from server.commands import COMMANDS
from server.mcp.server import NpMcp


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_saved_then_failed_is_told_as_saved(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = COMMANDS["np.task.add"]

    def add_then_fail(ctx: Any, args: Any) -> Any:
        original.handler(ctx, args)
        raise RuntimeError("the result could not be built")

    broken = type(original)(original.name, original.fields, add_then_fail, original.writes)
    monkeypatch.setitem(COMMANDS, "np.task.add", broken)
    project = tmp_path / "p"
    project.mkdir()
    app = NpMcp(str(tmp_path / "np.db"), str(project))
    try:
        async with Client(app.server, mode=mode) as client:  # type: ignore[arg-type]
            await client.call_tool("np_start", {})
            await client.call_tool("np_goal", {"title": "g", "description": "d"})
            result = await client.call_tool("np_add", {"tasks": [{"title": "once"}]})
            text = text_of(result)
            assert not result.is_error, text
            assert text.startswith("saved: np_add was carried out and saved"), text
            assert "do not repeat it" in text and "RuntimeError" in text
            plan = text_of(await client.call_tool("np_plan", {}))
            assert plan.count(" once") == 1
            # A failure before anything was written stays an error.
            failed = await client.call_tool("np_add", {"tasks": []})
            assert failed.is_error and text_of(failed).startswith("Failed (invalid_argument): ")
    finally:
        app.close()
