"""A whole agent session over MCP with the SDK's own client against ``np mcp`` as a real
subprocess, in both protocol generations: every tool, every error path, parity of each
result's plan with the CLI's for the same state, and no structured content anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp_support import (
    CLIENT_NAME,
    MODES,
    error,
    event_count,
    mcp_client,
    ok,
    task_ids,
)

from tests.conftest import NpRunner


def cli_plan(run_np: NpRunner) -> str:
    r = run_np("p")
    assert r.code == 0, r
    return r.out.rstrip("\n")


def assert_parity(text: str, run_np: NpRunner, *, guide: str | None = None) -> None:
    """The result is exactly the CLI's plan for the same state, then (for results that
    teach a step) a blank line and this door's guide."""
    plan = cli_plan(run_np)
    if guide is None:
        assert text == plan
    else:
        assert text.startswith(plan + "\n\n"), (text, plan)
        rest = text[len(plan) + 2 :]
        assert guide in rest, rest


@pytest.mark.parametrize("mode", MODES)
async def test_whole_session(mode: str, db_path: Path, workdir: Path, run_np: NpRunner) -> None:
    async with mcp_client(db_path, mode=mode, directory=workdir) as client:
        if mode == "auto":
            assert client.protocol_version == "2026-07-28"
        else:
            assert client.protocol_version < "2026"
        assert "np_start" in (client.instructions or "")

        # Nothing to act on yet: the error names the tool that starts a session.
        assert (await error(client, "np_plan")).startswith("no_active_session: ")
        assert "np_start" in await error(client, "np_resume")

        text = await ok(client, "np_start")
        assert_parity(text, run_np, guide="np_goal(title, description)")
        again = await error(client, "np_start")
        assert again.startswith("session_already_active: ") and "np_resume" in again

        missing = await error(
            client, "np_update", {"updates": [{"id": "abcdef", "status": "completed"}]}
        )
        assert missing.startswith("task_not_found: "), missing
        text = await ok(client, "np_goal", {"title": "Ship MCP", "description": "Issue 13."})
        assert_parity(text, run_np, guide="np_add(")
        again = await error(client, "np_goal", {"title": "Other", "description": "x"})
        assert again.startswith("goal_already_set: ") and "reason" in again

        text = await ok(
            client,
            "np_add",
            {
                "tasks": [
                    {"title": "one", "description": "first"},
                    {"title": "two"},
                    {"title": "three"},
                ]
            },
        )
        assert_parity(text, run_np, guide="np_update(")
        one, two, three = task_ids(text)

        text = await ok(
            client,
            "np_update",
            {"updates": [{"id": one, "status": "completed"}, {"id": two, "status": "in_progress"}]},
        )
        assert_parity(text, run_np)
        assert f"☑ {one} one" in text and f"⟳ {two} two" in text

        # Idempotent: setting the status a task already has writes nothing.
        before = event_count(db_path)
        assert (
            await ok(client, "np_update", {"updates": [{"id": one, "status": "completed"}]}) == text
        )
        assert event_count(db_path) == before

        before = event_count(db_path)
        failed = await error(
            client, "np_update", {"updates": [{"id": three, "status": "cancelled"}]}
        )
        assert failed.startswith("reason_required: ") and '"reason"' in failed
        unknown = await error(
            client, "np_update", {"updates": [{"id": "ffffff", "status": "completed"}]}
        )
        assert unknown.startswith("task_not_found: ") and "np_plan" in unknown
        assert event_count(db_path) == before

        text = await ok(
            client,
            "np_update",
            {"updates": [{"id": three, "status": "cancelled"}], "reason": "not needed"},
        )
        assert_parity(text, run_np)
        assert f"⊗ {three} three" in text

        assert (await error(client, "np_edit", {"id": two, "title": "2"})).startswith(
            "reason_required: "
        )
        text = await ok(
            client, "np_edit", {"id": two, "title": "two, reworded", "reason": "clearer"}
        )
        assert_parity(text, run_np)

        changed = await ok(
            client,
            "np_goal",
            {"title": "Ship MCP well", "description": "Issue 13, all of it.", "reason": "asked"},
        )
        assert_parity(changed, run_np)
        assert changed.startswith("Goal: Ship MCP well")

        assert_parity(await ok(client, "np_plan"), run_np)
        listed = await ok(client, "np_plan", {"status": ["in_progress", "cancelled"]})
        cli = run_np("t", "-s", "in_progress", "-s", "cancelled")
        assert listed == cli.out.rstrip("\n")
        assert task_ids(listed) == [two, three]

        resumed = await ok(client, "np_resume")
        assert_parity(resumed, run_np, guide="np_update")

    # Every event names the MCP client and the tool.
    log = run_np("log", "-n", "100", "--json")
    cmds = {e["cmd"] for e in log.json()["events"]}
    assert f"mcp:np_start ({CLIENT_NAME})" in cmds
    assert f"mcp:np_update ({CLIENT_NAME})" in cmds


@pytest.mark.parametrize("mode", MODES)
async def test_bad_arguments_answered_and_nothing_written(
    mode: str, db_path: Path, workdir: Path
) -> None:
    async with mcp_client(db_path, mode=mode, directory=workdir) as client:
        await ok(client, "np_start")
        await ok(client, "np_goal", {"title": "g", "description": "d"})
        await ok(client, "np_add", {"tasks": [{"title": "kept"}]})
        before = event_count(db_path)
        cases: list[tuple[str, dict[str, object], str]] = [
            ("np_add", {"tasks": "not a list"}, "invalid_argument: "),
            ("np_add", {"tasks": []}, "invalid_argument: "),
            ("np_add", {"tasks": [{"title": "ok"}, {"title": ""}]}, "invalid_argument: "),
            ("np_add", {"tasks": [{"title": "ok"}, {"name": "x"}]}, "invalid_argument: "),
            ("np_add", {"tasks": [{"title": "x" * 301}]}, "invalid_argument: "),
            (
                "np_add",
                {"tasks": [{"title": "t", "description": "d" * 20_001}]},
                "invalid_argument: ",
            ),
            ("np_add", {"tasks": [{"title": "a\u0000b"}]}, "invalid_argument: "),
            ("np_add", {"tasks": [{"title": "t"}] * 501}, "invalid_argument: "),
            ("np_add", {"task": [{"title": "t"}]}, "invalid_argument: "),
            ("np_update", {"updates": [{"id": "x", "status": "finished"}]}, "invalid_argument: "),
            ("np_update", {"updates": [{"id": 7, "status": "completed"}]}, "invalid_argument: "),
            ("np_update", {"updates": {"id": "x"}}, "invalid_argument: "),
            ("np_plan", {"status": ["nope"]}, "invalid_argument: "),
            ("np_plan", {"status": 3}, "invalid_argument: "),
            ("np_goal", {"title": "t"}, ""),
            (
                "np_edit",
                {"id": "zzzzzz", "title": "t", "reason": "r" * 2_001},
                "invalid_argument: ",
            ),
            ("np_start", {"dir": 42}, "invalid_argument: "),
            ("np_plan", {"dir": "/no/such/dir/anywhere"}, "no_active_session: "),
            ("np_start", {"dir": "/no/such/dir/anywhere"}, "invalid_argument: "),
        ]
        for tool, args, prefix in cases:
            text = await error(client, tool, args)
            assert text.startswith(prefix), (tool, args, text)
            assert "Traceback" not in text and len(text) < 600, text
        assert event_count(db_path) == before

        # An unknown tool is a protocol error, answered (not a crash, not silence).
        from mcp.shared.exceptions import MCPError

        with pytest.raises(MCPError) as caught:
            await client.call_tool("np_archive", {})
        assert "np_plan" in caught.value.message
        # The server still answers afterwards.
        assert "kept" in await ok(client, "np_plan")


async def test_directory_rules(db_path: Path, workdir: Path, tmp_path: Path) -> None:
    """Without -C, a server started in $HOME (or /) asks for ``dir``; a relative ``dir``
    needs a base; ``dir`` wins over -C; the parent walk applies."""
    home = tmp_path / "home"
    home.mkdir()
    async with mcp_client(db_path, cwd=home, env={"HOME": str(home)}) as client:
        text = await error(client, "np_start")
        assert text.startswith("invalid_argument: ") and '"dir"' in text
        assert (await error(client, "np_plan", {"dir": "project"})).startswith("invalid_argument: ")
        await ok(client, "np_start", {"dir": str(workdir)})
        sub = workdir / "src"
        sub.mkdir()
        assert "(no tasks yet)" in await ok(client, "np_plan", {"dir": str(sub)})

    async with mcp_client(db_path, cwd=workdir) as client:  # the process's directory
        assert "(no tasks yet)" in await ok(client, "np_plan")

    other = tmp_path / "other"
    other.mkdir()
    async with mcp_client(db_path, cwd=home, directory=other) as client:
        await ok(client, "np_start")  # -C: other
        await ok(client, "np_goal", {"title": "in other", "description": "d"})
        assert "in other" not in await ok(client, "np_plan", {"dir": str(workdir)})
        (other / "pkg").mkdir()
        assert "in other" in await ok(client, "np_plan", {"dir": "pkg"})  # relative to -C


async def test_cli_change_in_another_process_shows(
    db_path: Path, workdir: Path, run_np: NpRunner
) -> None:
    async with mcp_client(db_path, directory=workdir) as client:
        await ok(client, "np_start")
        await ok(client, "np_goal", {"title": "g", "description": "d"})
        (one,) = task_ids(await ok(client, "np_add", {"tasks": [{"title": "one"}]}))
        r = run_np("t", "u", "-i", one, "-s", "cancelled", "-r", "the operator changed plans")
        assert r.code == 0, r
        text = await ok(client, "np_plan")
        assert f"⊗ {one} one" in text


async def test_prompt_and_tool_list(db_path: Path, workdir: Path) -> None:
    async with mcp_client(db_path, directory=workdir) as client:
        prompts = await client.list_prompts()
        assert [p.name for p in prompts.prompts] == ["np"]
        prompt = await client.get_prompt("np")
        body = prompt.messages[0].content
        assert body.type == "text" and "np_start" in body.text
        tools = (await client.list_tools()).tools
        for tool in tools:
            assert tool.output_schema is None, tool.name
            assert tool.annotations is not None
        notes = {t.name: t.annotations for t in tools}
        assert notes["np_plan"].read_only_hint and notes["np_resume"].read_only_hint
        assert notes["np_update"].idempotent_hint
        assert all(notes[n].destructive_hint is False for n in notes if not notes[n].read_only_hint)
        # The server's instructions: two sentences.
        assert (client.instructions or "").count(". ") + 1 == 2


def test_without_the_extra_one_sentence(np_env: dict[str, str], workdir: Path) -> None:
    import subprocess
    import sys

    code = "import sys; sys.modules['mcp'] = None; from server.cli import main; sys.exit(main())"
    proc = subprocess.run(
        [sys.executable, "-c", code, "mcp"],
        cwd=workdir,
        env=np_env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    line = proc.stderr.strip()
    assert "\n" not in line and "pip install 'nasin-pali[mcp]'" in line, line


async def test_a_long_plan_is_folded_in_tool_terms(
    db_path: Path, workdir: Path, run_np: NpRunner
) -> None:
    """Above 100 tasks the plan is a bounded preview; the count lines name np_plan, and the
    shown part is the CLI's, line for line."""
    async with mcp_client(db_path, directory=workdir) as client:
        await ok(client, "np_start")
        await ok(client, "np_goal", {"title": "g", "description": "d"})
        tasks = [{"title": f"task {n}"} for n in range(150)]
        text = await ok(client, "np_add", {"tasks": tasks})
        assert '☐ … 50 more pending (list them: np_plan(status=["pending"]))' in text
        plan = await ok(client, "np_plan")
        cli = cli_plan(run_np)
        assert plan.replace('np_plan(status=["pending"])', "np t -s pending") == cli
        listed = await ok(client, "np_plan", {"status": ["pending"]})
        assert len(task_ids(listed)) == 150
