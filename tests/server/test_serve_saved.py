"""A committed change is never reported as a failure: when building a write's result fails
after its unit of work committed, the answer says it was saved (``data.saved``), so the
client does not repeat it. In process, to make the result fail on purpose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_serve_inprocess import command, piped, wait_for

from server.commands import COMMANDS


def test_saved_then_failed_is_told_as_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = COMMANDS["np.task.add"]

    def add_then_fail(ctx: Any, args: Any) -> Any:
        original.handler(ctx, args)
        raise RuntimeError("the result could not be built")

    broken = type(original)(original.name, original.fields, add_then_fail, original.writes)
    monkeypatch.setitem(COMMANDS, "np.task.add", broken)
    project = tmp_path / "p"
    project.mkdir()
    with piped(tmp_path) as p:
        p.send(command(1, "np.session.start", {"dir": str(project)}))
        p.send(command(2, "np.task.add", {"dir": str(project), "tasks": [{"title": "once"}]}))
        p.send(command(3, "np.plan", {"dir": str(project)}))
        wait_for(lambda: {r.get("id") for r in p.replies()} >= {1, 2, 3})
    replies = {r["id"]: r for r in p.replies()}
    error = replies[2]["error"]
    assert error["code"] == -32603
    assert error["data"] == {"kind": "internal_error", "saved": True}
    assert "saved" in error["message"] and "do not repeat" in error["message"]
    assert [t["title"] for t in replies[3]["result"]["tasks"]] == ["once"]
