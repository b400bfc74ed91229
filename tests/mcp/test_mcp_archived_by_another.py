"""np mcp: when another actor archives the session, the model's next tool call says who,
when, and that a new session is for new work the operator asked for (B11, issue 12)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mcp_support import error, mcp_client, np_command, ok


async def test_mcp_model_is_told_who_archived_its_session(tmp_path: Path) -> None:
    db, project = tmp_path / "np.db", tmp_path / "project"
    project.mkdir()
    async with mcp_client(db, directory=project) as client:
        await ok(client, "np_start", {})
        archived = subprocess.run(
            [*np_command(), "--db", str(db), "--actor", "ana", "a"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert "archived" in archived.stdout
        for tool, arguments in (("np_plan", {}), ("np_add", {"tasks": [{"title": "x"}]})):
            text = await error(client, tool, arguments)
            assert "ana archived this folder's session " in text, text
            assert "np_start only if the operator asked for new work" in text, text
