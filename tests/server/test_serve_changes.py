""" "Changed since you last looked", end to end across doors: an editor (a real ``np serve``
with a client name) changes the plan and the agent's very next CLI output starts with a
notice — who, what, the reason — exactly once; a CLI change reaches a JSON-RPC client as a
``changes`` list; a long run of changes is folded with a count; every event records its
actor (``np log``, ``np.events``, the export)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from serve_support import NpClient, as_dict, run_cli, server_env, start_client

from tests.support import np_command

pytestmark = pytest.mark.asyncio(loop_scope="function")

NOTICE_HEAD = "Changed by others since you last looked"


def np_text(db: Path, *args: str, cwd: Path, actor: str | None = None) -> str:
    """``np <args>`` as the agent types it (text output); returns stdout."""
    env = server_env(db)
    env.pop("NP_ACTOR", None)
    if actor is not None:
        env["NP_ACTOR"] = actor
    proc = subprocess.run(
        [*np_command(), *args],
        cwd=str(cwd),
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


async def result(client: NpClient, command: str, argument: dict[str, Any]) -> dict[str, Any]:
    return as_dict(await client.call(command, argument))  # type: ignore[no-any-return]


async def test_an_editor_change_reaches_the_agents_next_cli_output_once(
    tmp_path: Path,
) -> None:
    db, project = tmp_path / "np.db", tmp_path / "shop"
    project.mkdir()
    np_text(db, "s", cwd=project)
    np_text(db, "g", "s", "-t", "CSV export", "-d", "Issue #42: reports/export.py", cwd=project)
    added = run_cli(db, "t", "a", "-t", "Write the serializer", "-t", "Support .xlsx", cwd=project)
    writer, xlsx = added["added"]

    editor = await start_client(db, root=project, client_name="Neovim")
    try:
        cancelled = await result(
            editor,
            "np.task.update",
            {"updates": [{"id": xlsx, "status": "cancelled", "reason": "CSV is enough for now"}]},
        )
        # The editor's own write carries no notice of its own change.
        assert cancelled["changes"] == [] and "notice" not in cancelled
        events = (await result(editor, "np.events", {"newest_first": True}))["events"]
        assert events[0]["actor"] == "Neovim"
        assert events[-1]["actor"] == "agent"  # the CLI records the agent by default
    finally:
        await editor.close()

    # The agent's very next output, a write, starts with the notice: who, what, why.
    out = np_text(db, "t", "u", "-i", writer, "-s", "in_progress", cwd=project)
    notice, _, plan = out.partition("\n\n")
    assert notice.splitlines() == [
        f"{NOTICE_HEAD} (1 change):",
        f'  #5 Neovim: task {xlsx} "Support .xlsx": ☐ pending → ⊗ cancelled'
        " — reason: CSV is enough for now",
    ]
    assert plan.startswith("Goal: CSV export")
    # The plan itself keeps the reason under the task.
    assert f"⊗ {xlsx} Support .xlsx\n    reason: CSV is enough for now" in out
    # Exactly once: the next reads and writes have no notice.
    assert NOTICE_HEAD not in np_text(db, "p", cwd=project)
    assert NOTICE_HEAD not in np_text(db, "r", cwd=project)
    # Another actor (NP_ACTOR) has a "last looked" of its own. A first look is the whole
    # plan, without a notice; after that she is told what the agent did, once.
    assert NOTICE_HEAD not in np_text(db, "p", cwd=project, actor="ana")
    np_text(db, "t", "u", "-i", writer, "-s", "done", cwd=project)
    ana = np_text(db, "t", cwd=project, actor="ana")
    assert ana.startswith(
        f'{NOTICE_HEAD} (1 change):\n  #7 agent: task {writer} "Write the serializer": '
        "⟳ in progress → ☑ completed\n\n"
    ), ana
    assert NOTICE_HEAD not in np_text(db, "t", cwd=project, actor="ana")
    log = np_text(db, "log", cwd=project)
    assert " Neovim: task " in log and " agent: task " in log

    # A goal changed by someone else is shown whole in the agent's next write, which
    # otherwise shows only the goal's title.
    editor = await start_client(db, root=project, client_name="Visual Studio Code")
    try:
        await result(
            editor,
            "np.goal.change",
            {"description": "Issue #42 and #43: reports/export.py", "reason": "scope grew"},
        )
    finally:
        await editor.close()
    out = np_text(db, "t", "u", "-i", writer, "-s", "in_progress", cwd=project)
    assert "Visual Studio Code: goal changed: description changed — reason: scope grew" in out
    assert "Goal: CSV export\nIssue #42 and #43: reports/export.py\n" in out
    out = np_text(db, "t", "u", "-i", writer, "-s", "completed", cwd=project)
    assert out.startswith("Goal: CSV export\n\n")


async def test_a_cli_change_reaches_a_json_rpc_client_as_changes(tmp_path: Path) -> None:
    db, project = tmp_path / "np.db", tmp_path / "app"
    project.mkdir()
    editor = await start_client(db, root=project, client_name="Visual Studio Code")
    try:
        await result(editor, "np.session.start", {})
        await result(editor, "np.goal.set", {"title": "Ship it", "description": "Issue #7"})
        added = await result(editor, "np.task.add", {"tasks": [{"title": "Flaky test"}]})
        (task,) = added["added"]
        assert added["changes"] == []

        np_text(db, "t", "u", "-i", task, "-s", "failed", "-r", "CI is down", cwd=project)

        plan = await result(editor, "np.plan", {})
        (change,) = plan["changes"]
        assert change["actor"] == "agent" and change["reason"] == "CI is down"
        assert change["type"] == "task_status_changed" and change["seq"] == 4
        assert change["summary"] == f'task {task} "Flaky test": ☐ pending → ☒ failed'
        assert plan["notice"].startswith(f"{NOTICE_HEAD} (1 change):\n  #4 agent: task {task}")
        assert "np " not in plan["notice"].replace("np.", "")  # no CLI words over JSON-RPC
        assert plan["tasks"][0]["reason"] == "CI is down"
        assert "☒" in plan["text"] and "    reason: CI is down" in plan["text"]
        # Shown once: the next result carries none.
        again = await result(editor, "np.task.list", {})
        assert again["changes"] == [] and "notice" not in again
    finally:
        await editor.close()


async def test_a_long_run_of_changes_is_folded_with_a_count(tmp_path: Path) -> None:
    db, project = tmp_path / "np.db", tmp_path / "big"
    project.mkdir()
    editor = await start_client(db, root=project, client_name="Neovim")
    try:
        await result(editor, "np.session.start", {})
        await result(editor, "np.goal.set", {"title": "G", "description": "D"})
        for n in range(1, 9):  # eight changes by the operator, from a terminal
            np_text(db, "t", "a", "-t", f"operator task {n}", cwd=project, actor="ana")
        plan = await result(editor, "np.plan", {})
        assert [c["summary"].split(" added: ")[1] for c in plan["changes"]] == [
            f'"operator task {n}"' for n in range(4, 9)
        ]
        assert plan["changes_folded"] == {"count": 3, "from_seq": 3, "to_seq": 5}
        lines = plan["notice"].splitlines()
        assert lines[0] == f"{NOTICE_HEAD} (8 changes):"
        assert lines[1] == "  … 3 earlier changes (#3–#5) folded; the event log has them all."
        assert len(lines) == 7 and lines[-1].startswith("  #10 ana: task ")
        assert all(len(line) < 200 for line in lines)
        assert "changes_folded" not in await result(editor, "np.plan", {})
    finally:
        await editor.close()


async def test_bounded_plan_text_points_to_the_json_command(tmp_path: Path) -> None:
    db, project = tmp_path / "np.db", tmp_path / "long"
    project.mkdir()
    client = await start_client(db, root=project, client_name="Neovim")
    try:
        await result(client, "np.session.start", {})
        await result(client, "np.goal.set", {"title": "G", "description": "D"})
        long = "\n".join(f"step {n}" for n in range(50))
        added = await result(
            client, "np.task.add", {"tasks": [{"title": "T", "description": long}]}
        )
        (task,) = added["added"]
        assert f'… (all of it: np.task.list {{"ids": ["{task}"]}})' in added["text"]
        assert "np t" not in added["text"]
        assert added["tasks"][0]["description"] == long  # JSON is always complete
        whole = await result(client, "np.task.list", {"ids": [task]})
        assert "step 49" in whole["text"] and "all of it" not in whole["text"]
        missing = await client.error("np.task.list", {"ids": ["nope"]})
        assert missing.code == 1005
    finally:
        await client.close()
