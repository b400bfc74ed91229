"""A whole agent session over MCP with the SDK's own client against ``np mcp`` as a real
subprocess, in both protocol generations: every tool, every error path, parity of each
result's plan with the CLI's for the same state, and no structured content anywhere."""

from __future__ import annotations

import re
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

from server.text.guide import GUIDES, Door, Name
from tests.conftest import NpRunner

SAME_ACTOR = {"NP_ACTOR": CLIENT_NAME}  # the CLI as the same actor: no notices between them


def cli(run_np: NpRunner, *args: str) -> str:
    r = run_np(*args, env=SAME_ACTOR)
    assert r.code == 0, r
    return r.out.rstrip("\n")


def cli_plan(run_np: NpRunner) -> str:
    return cli(run_np, "p")


def without_guide(text: str, door: Door, name: Name) -> str:
    """``text`` less its closing guide (this door's wording of ``name``), which must be there."""
    tail = "\n\n" + GUIDES[door][name]
    assert text.endswith(tail), (text, name)
    return text[: -len(tail)]


def assert_parity(text: str, run_np: NpRunner) -> None:
    """A read's result is exactly what the CLI prints for the same state."""
    assert text == cli_plan(run_np)


@pytest.mark.parametrize("mode", MODES)
async def test_whole_session(mode: str, db_path: Path, workdir: Path, run_np: NpRunner) -> None:
    async with mcp_client(db_path, mode=mode, directory=workdir) as client:
        if mode == "auto":
            assert client.protocol_version == "2026-07-28"
        else:
            assert client.protocol_version < "2026"
        assert "np_start" in (client.instructions or "")

        # Nothing to act on yet: the error names the tool that starts a session.
        assert (await error(client, "np_plan")).startswith("Failed (no_active_session): ")
        assert "np_start" in await error(client, "np_resume")

        text = await ok(client, "np_start")
        assert without_guide(text, "mcp", "start") == cli_plan(run_np)
        again = await error(client, "np_start")
        assert again.startswith("Failed (session_already_active): ") and "np_resume" in again

        missing = await error(
            client, "np_update", {"updates": [{"id": "abcdef", "status": "completed"}]}
        )
        assert missing.startswith("Failed (task_not_found): "), missing
        text = await ok(client, "np_goal", {"title": "Ship MCP", "description": "Issue 13."})
        assert without_guide(text, "mcp", "goal_set").startswith("Goal: Ship MCP")
        again = await error(client, "np_goal", {"title": "Other", "description": "x"})
        assert again.startswith("Failed (goal_already_set): ") and "reason" in again

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
        one, two, three = task_ids(without_guide(text, "mcp", "tasks_added"))

        text = await ok(
            client,
            "np_update",
            {"updates": [{"id": one, "status": "completed"}, {"id": two, "status": "in_progress"}]},
        )
        assert f"☑ {one} one" in text and f"⟳ {two} two" in text
        assert_parity(await ok(client, "np_plan"), run_np)

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
        assert failed.startswith("Failed (reason_required): ") and '"reason"' in failed
        unknown = await error(
            client, "np_update", {"updates": [{"id": "ffffff", "status": "completed"}]}
        )
        assert unknown.startswith("Failed (task_not_found): ") and "np_plan" in unknown
        assert event_count(db_path) == before

        text = await ok(
            client,
            "np_update",
            {"updates": [{"id": three, "status": "cancelled"}], "reason": "not needed"},
        )
        assert f"⊗ {three} three" in text and "reason: not needed" in text

        assert (await error(client, "np_edit", {"id": two, "title": "2"})).startswith(
            "Failed (reason_required): "
        )
        text = await ok(
            client, "np_edit", {"id": two, "title": "two, reworded", "reason": "clearer"}
        )
        assert f"⟳ {two} two, reworded" in text

        changed = await ok(
            client,
            "np_goal",
            {"title": "Ship MCP well", "description": "Issue 13, all of it.", "reason": "asked"},
        )
        assert changed.startswith("Goal: Ship MCP well")

        assert_parity(await ok(client, "np_plan"), run_np)
        listed = await ok(client, "np_plan", {"status": ["in_progress", "cancelled"]})
        assert listed == cli(run_np, "t", "-s", "in_progress", "-s", "cancelled")
        assert task_ids(listed) == [two, three]
        whole = await ok(client, "np_plan", {"id": one})
        assert whole == cli(run_np, "t", "-i", one) and "first" in whole

        resumed = await ok(client, "np_resume")
        assert without_guide(resumed, "mcp", "resume") == without_guide(
            cli(run_np, "r"), "cli", "resume"
        )

    # Every event names the MCP client and the tool.
    log = run_np("log", "-n", "100", "--json")
    events = log.json()["events"]
    assert {e["actor"] for e in events} == {CLIENT_NAME}
    cmds = {e["cmd"] for e in events}
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
            ("np_add", {"tasks": "not a list"}, "Failed (invalid_argument): "),
            ("np_add", {"tasks": []}, "Failed (invalid_argument): "),
            ("np_add", {"tasks": [{"title": "ok"}, {"title": ""}]}, "Failed (invalid_argument): "),
            ("np_add", {"tasks": [{"title": "ok"}, {"name": "x"}]}, "Failed (invalid_argument): "),
            ("np_add", {"tasks": [{"title": "x" * 301}]}, "Failed (invalid_argument): "),
            (
                "np_add",
                {"tasks": [{"title": "t", "description": "d" * 20_001}]},
                "Failed (invalid_argument): ",
            ),
            ("np_add", {"tasks": [{"title": "a\u0000b"}]}, "Failed (invalid_argument): "),
            ("np_add", {"tasks": [{"title": "t"}] * 501}, "Failed (invalid_argument): "),
            ("np_add", {"task": [{"title": "t"}]}, "Failed (invalid_argument): "),
            (
                "np_update",
                {"updates": [{"id": "x", "status": "finished"}]},
                "Failed (invalid_argument): ",
            ),
            (
                "np_update",
                {"updates": [{"id": 7, "status": "completed"}]},
                "Failed (invalid_argument): ",
            ),
            ("np_update", {"updates": {"id": "x"}}, "Failed (invalid_argument): "),
            ("np_plan", {"status": ["nope"]}, "Failed (invalid_argument): "),
            ("np_plan", {"status": 3}, "Failed (invalid_argument): "),
            ("np_goal", {"title": "t"}, ""),
            (
                "np_edit",
                {"id": "zzzzzz", "title": "t", "reason": "r" * 2_001},
                "Failed (invalid_argument): ",
            ),
            ("np_start", {"dir": 42}, "Failed (invalid_argument): "),
            (
                "np_plan",
                {"dir": "/no/such/dir/anywhere"},
                "Failed (invalid_argument): /no/such/dir/anywhere: no such directory",
            ),
            ("np_start", {"dir": "/no/such/dir/anywhere"}, "Failed (invalid_argument): "),
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
    """Without -C, a server started in $HOME (or /) asks for ``dir``; a relative ``dir`` is
    refused (the schema asks for an absolute path), even with -C; ``dir`` wins over -C; the
    parent walk applies to a ``dir`` that exists."""
    home = tmp_path / "home"
    home.mkdir()
    async with mcp_client(db_path, cwd=home, env={"HOME": str(home)}) as client:
        text = await error(client, "np_start")
        assert text.startswith("Failed (invalid_argument): ") and '"dir"' in text
        assert (await error(client, "np_plan", {"dir": "project"})).startswith(
            "Failed (invalid_argument): "
        )
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
        refused = await error(client, "np_plan", {"dir": "pkg"})
        assert refused.startswith("Failed (invalid_argument): pkg is a relative path"), refused


@pytest.mark.parametrize("mode", MODES)
async def test_cli_change_in_another_process_shows_as_a_notice(
    mode: str, db_path: Path, workdir: Path, run_np: NpRunner
) -> None:
    """The operator cancels a task from a terminal while the agent works over MCP: the
    agent's very next result starts with the notice (who, what, why), exactly once."""
    async with mcp_client(db_path, mode=mode, directory=workdir) as client:
        await ok(client, "np_start")
        await ok(client, "np_goal", {"title": "g", "description": "d"})
        added = await ok(client, "np_add", {"tasks": [{"title": "one"}, {"title": "two"}]})
        one, two = task_ids(added)
        r = run_np(
            "t",
            "u",
            "-i",
            one,
            "-s",
            "cancelled",
            "-r",
            "the operator changed plans",
            env={"NP_ACTOR": "ana"},
        )
        assert r.code == 0, r
        text = await ok(client, "np_update", {"updates": [{"id": two, "status": "in_progress"}]})
        notice, _, rest = text.partition("\n\n")
        assert notice.startswith("Changed by others since you last looked"), text
        assert "ana" in notice and one in notice and "the operator changed plans" in notice
        assert rest.startswith("Goal: g") and f"⊗ {one} one" in rest
        again = await ok(client, "np_plan")
        assert "Changed by others" not in again  # shown once
        # A read shows it too: the next change by someone else leads np_plan's result.
        assert run_np("t", "a", "-t", "three", env={"NP_ACTOR": "ana"}).code == 0
        plan = await ok(client, "np_plan")
        assert plan.startswith("Changed by others since you last looked") and "three" in plan
        assert "Changed by others" not in await ok(client, "np_resume")


FLOW: list[tuple[str, dict[str, object], list[str], Name | None]] = [
    ("np_start", {}, ["s"], "start"),
    (
        "np_goal",
        {"title": "Parity", "description": "Issue 13.\nTwo lines."},
        ["g", "s", "-t", "Parity", "-d", "Issue 13.\nTwo lines."],
        "goal_set",
    ),
    (
        "np_add",
        {"tasks": [{"title": "one", "description": "first"}, {"title": "two"}]},
        ["t", "a", "-t", "one", "-d", "first", "-t", "two"],
        "tasks_added",
    ),
    (
        "np_update",
        {"updates": [{"id": "{0}", "status": "in_progress"}]},
        ["t", "u", "-i", "{0}", "-s", "in_progress"],
        None,
    ),
    (
        "np_update",
        {"updates": [{"id": "{1}", "status": "failed"}], "reason": "broken"},
        ["t", "u", "-i", "{1}", "-s", "failed", "-r", "broken"],
        None,
    ),
    (
        "np_edit",
        {"id": "{0}", "title": "uno", "reason": "rename"},
        ["t", "e", "-i", "{0}", "-t", "uno", "-r", "rename"],
        None,
    ),
    (
        "np_goal",
        {"title": "Parity 2", "description": "More.", "reason": "asked"},
        ["g", "u", "-t", "Parity 2", "-d", "More.", "-r", "asked"],
        None,
    ),
    ("np_plan", {}, ["p"], None),
    ("np_plan", {"status": ["failed"]}, ["t", "-s", "failed"], None),
    ("np_plan", {"id": "{0}"}, ["t", "-i", "{0}"], None),
    ("np_resume", {}, ["r"], "resume"),
]


def _fill(value: object, ids: list[str]) -> object:
    if isinstance(value, str):
        return value.format(*ids) if "{" in value else value
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _anonymous(text: str, ids: list[str]) -> str:
    for n, task_id in enumerate(ids):
        text = text.replace(task_id, f"<id{n}>")
    # who holds a task in progress: each door's own actor (the MCP client, the CLI's agent)
    return re.sub(r"\[[^\]\n]+ until \d\d:\d\dZ\]", "[<holder> until <time>]", text)


async def test_every_result_matches_the_cli_for_the_same_steps(
    db_path: Path, tmp_path: Path, run_np: NpRunner
) -> None:
    """The same steps through MCP (in one project) and through the CLI (in another): each
    result is the CLI's output, ids aside, with this door's guide where the CLI has its own."""
    by_mcp, by_cli = tmp_path / "mcp-project", tmp_path / "cli-project"
    by_mcp.mkdir()
    by_cli.mkdir()
    mcp_ids: list[str] = []
    cli_ids: list[str] = []
    async with mcp_client(db_path, directory=by_mcp) as client:
        for tool, args, argv, guide_name in FLOW:
            text = await ok(client, tool, _fill(args, mcp_ids))  # type: ignore[arg-type]
            r = run_np(*_fill(argv, cli_ids), cwd=by_cli)  # type: ignore[misc]
            assert r.code == 0, r
            out = r.out.rstrip("\n")
            if tool == "np_add":
                mcp_ids, cli_ids = task_ids(text), task_ids(out)
            if guide_name is not None:
                text = without_guide(text, "mcp", guide_name)
                out = without_guide(out, "cli", guide_name)
            assert _anonymous(text, mcp_ids) == _anonymous(out, cli_ids), (tool, text, out)


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
    assert "\n" not in line and "pip install '.[mcp]'" in line, line


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
        assert plan.replace('np_plan(status=["pending"])', "np t -s pending") == cli_plan(run_np)
        listed = await ok(client, "np_plan", {"status": ["pending"]})
        assert len(task_ids(listed)) == 150


async def test_a_long_description_points_to_np_plan_id(db_path: Path, workdir: Path) -> None:
    """A write prints the first lines of a long description and the call that shows it all;
    that call (np_plan with the id) shows the task whole."""
    long = "\n".join(f"line {n}: " + "x" * 60 for n in range(40))
    async with mcp_client(db_path, directory=workdir) as client:
        await ok(client, "np_start")
        await ok(client, "np_goal", {"title": "g", "description": "d"})
        text = await ok(client, "np_add", {"tasks": [{"title": "big", "description": long}]})
        (big,) = task_ids(text)
        assert f'… (all of it: np_plan(id="{big}"))' in text
        assert "line 39" not in text and len(text) < 2_000
        whole = await ok(client, "np_plan", {"id": big})
        assert "line 39: " in whole and "all of it" not in whole


def test_an_unwritable_log_file_is_one_sentence(run_np: NpRunner, tmp_path: Path) -> None:
    r = run_np("mcp", "--log-file", str(tmp_path / "no" / "such" / "dir" / "mcp.log"))
    assert r.code == 2 and r.out == ""
    assert r.err.count("\n") == 1 and "log file" in r.err and "Traceback" not in r.err, r
