"""End to end (issue 21): two agents and an operator on one plan at once — agent 1 through
np mcp (as Claude Code starts it), agent 2 through the CLI, the operator through np serve
(an editor) and the CLI — scripted, with the whole event log checked: nobody's work is
overridden unseen, no task is claimed twice, each actor is told of others' changes."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
from serve_support import as_dict, server_env, start_client

from tests.support import np_command
from tests.support.mcp_lines import LineMcp

pytestmark = pytest.mark.asyncio(loop_scope="function")

CLAUDE = {"CLAUDECODE": "1", "CLAUDE_CODE_SESSION_ID": "aaaa1111-2222"}


def cli(db: str, project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**server_env(db), **env}
    for name in ("NP_ACTOR", "CLAUDECODE", "CLAUDE_CODE_SESSION_ID"):
        if name not in env:
            full.pop(name, None)
    return subprocess.run(
        [*np_command(), *args],
        cwd=project,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


async def test_two_agents_and_an_operator_work_one_plan(np_db: str, tmp_path: Path) -> None:
    project = tmp_path / "shop"
    project.mkdir()
    # On PostgreSQL the doors' default actors name the machine (NP_ACTOR is taken as is).
    at = f"@{socket.gethostname()}" if np_db.startswith("postgresql") else ""
    claude, ed = f"claude-code#aaaa1111{at}", f"ana-editor{at}"
    op = {"NP_ACTOR": "ana"}
    two = {"NP_ACTOR": "agent-2"}
    assert cli(np_db, project, "s", **op).returncode == 0
    assert (
        cli(np_db, project, "g", "s", "-t", "CSV export", "-d", "Issue #42", **op).returncode == 0
    )
    added = cli(np_db, project, "--json", "t", "a", "-t", "Schema", "-t", "Writer", "--after",
                "#1", "-t", "Button", **op)  # fmt: skip
    schema, writer, button = json.loads(added.stdout)["added"]

    mcp_env = {**server_env(np_db), **CLAUDE}
    mcp_env.pop("NP_ACTOR", None)
    one = LineMcp(project, "claude-code", mcp_env)
    editor = await start_client(np_db, root=project, client_name="ana-editor")
    try:
        # agent 1 (MCP) claims the first ready task; agent 2 (CLI) gets the next one
        failed, text = one.tool("np_next", {})
        assert not failed and text.startswith(f"⟳ {schema} Schema  [{claude} until")
        got = json.loads(cli(np_db, project, "--json", "next", **two).stdout)
        assert got["task"]["id"] == button  # the writer waits for the schema
        # the operator, in the editor, cancels the button: agent 2 holds it, so on purpose
        await editor.call("np.plan", {})
        done = as_dict(
            await editor.call(
                "np.task.update",
                {
                    "updates": [{"id": button, "status": "cancelled", "take_over": True}],
                    "reason": "the button waits for the redesign",
                },
            )
        )
        assert [t["status"] for t in done["tasks"] if t["id"] == button] == ["cancelled"]
        # agent 2's blind completion is refused and shows why; again, it is its decision
        blind = cli(np_db, project, "t", "u", "-i", button, "-s", "completed", **two)
        assert blind.returncode == 1 and f"{ed} changed task" in blind.stderr
        assert "the button waits for the redesign" in blind.stderr
        # agent 1 finishes its task: not refused (nobody touched it); told of the cancel once
        failed, text = one.tool("np_update", {"updates": [{"id": schema, "status": "completed"}]})
        assert not failed and f"{ed}: task" in text and "redesign" in text
        failed, text = one.tool("np_next", {})
        assert not failed and f"⟳ {writer} Writer" in text and "Changed by others" not in text
        # agent 1's CLI is the same actor as its MCP: its own writes are no news to it
        mine = cli(np_db, project, "p", **CLAUDE)
        assert mine.returncode == 0 and "Changed by others" not in mine.stdout
    finally:
        one.close()
        await editor.close()

    events = json.loads(cli(np_db, project, "--json", "log", "-n", "100").stdout)["events"]
    log = [(e["type"], e["actor"], e["payload"].get("task_id")) for e in reversed(events)]
    assert log == [
        ("session_started", "ana", None),
        ("goal_set", "ana", None),
        ("task_added", "ana", None),
        ("task_added", "ana", None),
        ("task_added", "ana", None),
        ("task_status_changed", claude, schema),  # np_next
        ("task_status_changed", "agent-2", button),  # np next
        ("task_claimed", ed, button),  # taken over on purpose
        ("task_status_changed", ed, button),  # cancelled
        ("task_status_changed", claude, schema),  # completed
        ("task_status_changed", claude, writer),  # np_next
    ]
    seqs = [e["seq"] for e in reversed(events)]
    assert seqs == list(range(1, len(seqs) + 1))
