"""np serve with other actors on one plan (issue 21), on both engines: a blind override is
refused with its own code (1010) and the changes, then accepted; np.task.next claims; a keyed
retry writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from serve_support import NpClient, as_dict, check_exc, run_cli, server_env, start_client

pytestmark = pytest.mark.asyncio(loop_scope="function")


async def result(client: NpClient, command: str, argument: dict[str, Any]) -> dict[str, Any]:
    return as_dict(await client.call(command, argument))  # type: ignore[no-any-return]


async def test_serve_refuses_a_blind_override_then_accepts_it(np_db: str, tmp_path: Path) -> None:
    project = tmp_path / "shop"
    project.mkdir()
    run_cli(np_db, "s", cwd=project)
    x, y = run_cli(np_db, "t", "a", "-t", "Support .xlsx", "-t", "Stream", cwd=project)["added"]
    editor = await start_client(np_db, root=project, client_name="Neovim", env=server_env(np_db))
    try:
        await result(editor, "np.plan", {})  # the editor has seen the plan
        run_cli(np_db, "--actor", "ana", "p", cwd=project)
        run_cli(
            np_db, "--actor", "ana", "t", "u", "-i", x, "-s", "cancelled", "-r", "out", cwd=project
        )
        update = {"updates": [{"id": x, "status": "completed"}]}
        exc = await editor.error("np.task.update", update)
        data = check_exc(exc, 1010, "changed_since_seen")
        assert data["ids"] == [x] and data["by"] == ["ana"]
        assert [c["actor"] for c in data["changes"]] == ["ana"]
        assert "send the same request again" in exc.message
        tasks = {t["id"]: t["status"] for t in (await result(editor, "np.plan", {}))["tasks"]}
        assert tasks[x] == "cancelled"  # nothing was written
        done = await result(editor, "np.task.update", update)
        assert done["changes"] == []
        # np.task.next claims the first ready task for the editor, whole
        claimed = await result(editor, "np.task.next", {"key": "n-1"})
        assert claimed["task"]["id"] == y and claimed["task"]["claimed_by"].startswith("Neovim")
        again = await result(editor, "np.task.next", {"key": "n-1"})
        assert again["replayed"] is True and again["task"]["id"] == y
        none = await result(editor, "np.task.next", {})
        assert none["task"] is None and "No task is ready" in none["why"]
    finally:
        await editor.close()
