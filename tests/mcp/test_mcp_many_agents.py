"""np mcp with other actors on one plan (issue 21), on both engines: a blind override is an
isError result that shows the changes, then the same call goes through; np_next claims and
says why none is ready; a keyed np_add retry adds nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mcp_support import error, mcp_client, np_command, ok, task_ids


def cli(db: str, project: Path, *args: str) -> str:
    proc = subprocess.run(
        [*np_command(), *args],
        cwd=project,
        env={**os.environ, "NP_DB": db},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


async def test_mcp_refuses_a_blind_override_shows_it_then_accepts(
    np_db: str, tmp_path: Path
) -> None:
    project = tmp_path / "shop"
    project.mkdir()
    async with mcp_client(np_db, directory=project) as client:  # type: ignore[arg-type]
        await ok(client, "np_start", {})
        added = await ok(
            client,
            "np_add",
            {"tasks": [{"title": "Schema"}, {"title": "Writer", "after": ["#1"]}], "key": "a1"},
        )
        schema, writer = task_ids(added)[:2]
        again = await ok(
            client,
            "np_add",
            {"tasks": [{"title": "Schema"}, {"title": "Writer", "after": ["#1"]}], "key": "a1"},
        )
        assert task_ids(again) == [schema, writer]  # the retry added nothing
        assert f"{writer} Writer  [after {schema}]" in again
        cli(np_db, project, "--actor", "ana", "p")
        cli(
            np_db,
            project,
            "--actor",
            "ana",
            "t",
            "e",
            "-i",
            schema,
            "-t",
            "Schema v2",
            "-r",
            "renamed",
        )
        refused = await error(
            client, "np_update", {"updates": [{"id": schema, "status": "completed"}]}
        )
        assert "ana changed task" in refused, refused
        assert "Changed by others since you last looked (1 change):" in refused
        assert "call the same tool again" in refused
        await ok(client, "np_update", {"updates": [{"id": schema, "status": "completed"}]})
        claimed = await ok(client, "np_next", {})
        assert f"⟳ {writer} Writer" in claimed and "np_update" in claimed
        none = await ok(client, "np_next", {})
        assert none.startswith("No task is ready:") and "is held by" in none
