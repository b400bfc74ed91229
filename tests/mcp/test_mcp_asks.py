"""np mcp and asks (issue 23), on both engines: the model asks with np_edit's question form
and keeps working; the operator answers from the CLI (``np q a``); the model's next result
starts with the answer, once; a withdrawn question is gone; the words are the MCP door's."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mcp_support import CLIENT_NAME, error, mcp_client, np_command, ok, task_ids


def _np(db: str, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NP_DB": db}
    env.pop("NP_DEBUG", None)
    return subprocess.run(
        [*np_command(), *args], cwd=project, env=env, capture_output=True, text=True, timeout=60
    )


async def test_mcp_asks_keeps_working_and_gets_the_answer_once_first(
    np_db: str, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    async with mcp_client(np_db, directory=project) as client:  # type: ignore[arg-type]
        await ok(client, "np_start", {})
        await ok(client, "np_goal", {"title": "G", "description": "the goal"})
        added = await ok(client, "np_add", {"tasks": [{"title": "one"}, {"title": "two"}]})
        assert "np_edit(id, question, choices)" in added  # taught in this door's words
        first, second = task_ids(added)
        asked = await ok(
            client, "np_edit", {"id": first, "question": "Which one?", "choices": ["a", "b"]}
        )
        assert asked.strip() == "Asked; keep working."
        plan = await ok(client, "np_plan", {})
        assert "asks: Which one? [a | b]" in plan, plan

        listed = _np(np_db, project, "--actor", "ana", "q")
        assert first in listed.stdout and CLIENT_NAME in listed.stdout, listed
        answered = _np(np_db, project, "--actor", "ana", "q", "a", "-i", first, "-a", "b")
        assert answered.returncode == 0, answered.stderr

        nxt = await ok(client, "np_update", {"updates": [{"id": first, "status": "completed"}]})
        assert nxt.startswith(f"Answer from ana on {first}: b\n"), nxt
        again = await ok(client, "np_plan", {})
        assert "Answer from" not in again and "asks:" not in again

        # Withdrawn: asked, then taken back; the operator has nothing to answer.
        await ok(client, "np_edit", {"id": second, "question": "Needed?"})
        gone = await ok(client, "np_edit", {"id": second, "withdraw": True})
        assert "withdrawn" in gone
        assert _np(np_db, project, "--actor", "ana", "q").stdout.strip() == "No open questions."
        refused = await error(client, "np_edit", {"id": second, "withdraw": True})
        assert "no open question" in refused, refused
        # np_edit without a question is still a rewording, which needs a reason.
        reworded = await error(client, "np_edit", {"id": second, "title": "two, renamed"})
        assert "reason" in reworded
