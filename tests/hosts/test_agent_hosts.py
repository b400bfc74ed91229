"""np inside real agent hosts, each installed from npm at a pinned version, wired exactly as
the README says and driven by a scripted model on 127.0.0.1 (``make hosts``; part of
``make test``).

For each host, through MCP and through the CLI in the host's shell: the scripted flow runs
to its end (every scripted call answered), np's tools are in the host's FIRST model request
(MCP), np's errors and the operator's "Changed by others" notice reach the model. Each run
adds a line to ``summary.jsonl`` in the run folder: tools in the first request, seconds to
the first model request, bytes of np's tool list as the host forwarded it.

Runs only when ``NP_HOSTS`` names the hosts to run (``.ci/hosts.sh`` installs them and
prints the list; a host it could not install gets a "not tested — why" line there).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import agent_hosts as ah
import fakemodel as fm

SELECTED = os.environ.get("NP_HOSTS", "").split()
NP_BIN = Path(sys.executable).parent / "np"

ROOT = Path(__file__).resolve().parents[2]


def test_pins_are_the_installers() -> None:
    """.ci/hosts.sh installs exactly the pinned versions this harness names."""
    script = (ROOT / ".ci" / "hosts.sh").read_text(encoding="utf-8")
    pins = dict(re.findall(r"^  \[(\w+)\]=(\S+)$", script, re.M))
    assert pins == {h: f"{pkg}@{ver}" for h, (pkg, ver, _) in ah.HOSTS.items()}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hosts")


@pytest.fixture(scope="module")
def model(base: Path) -> Iterator[ah.FakeModel]:
    server = ah.FakeModel(base / "runs")
    yield server
    server.close()


def _summary(base: Path, run: ah.Run, first: int) -> None:
    mains = run.main_requests()
    line = {
        "host": run.host,
        "door": run.door,
        "version": ah.HOSTS[run.host][1],
        "first_request_np_tools": f"{first} of {len(ah.NP_TOOLS)}",
        "seconds_to_first_model_request": round(mains[0]["t"] - run.started, 1) if mains else None,
        "run_seconds": round(run.seconds, 1),
        "np_tools_bytes_as_forwarded": ah.forwarded_bytes(run),
    }
    with (base / "summary.jsonl").open("a") as out:
        out.write(json.dumps(line) + "\n")
    print(json.dumps(line))


# np's plan after a host's whole-list checklist writes (TodoWrite, update_plan, todo_write):
WHOLE_LIST_PLAN = {
    "Write hello.py": "completed",
    "Update the README": "cancelled",  # by the operator; the next write kept it so
    "Write the changelog": "pending",  # the operator's, as the agent finished
}


def _bridged(
    host: str, door: str, base: Path, model: ah.FakeModel
) -> tuple[ah.Run, str, list[dict[str, Any]]]:
    """A run of ``host`` wired with np's hooks (door ``door``); its model requests."""
    if host not in SELECTED:
        pytest.skip(f"real agent hosts run with `make hosts` ({host} is not in NP_HOSTS)")
    run = ah.run_host(host, door, NP_BIN, model, base)
    where = f"{host}/{door}: see {run.logdir}"
    mains = run.main_requests()
    assert not run.timed_out and mains, where
    return run, where, mains


class InNp(NamedTuple):
    tasks: dict[str, str]  # title: status
    actors: set[str]  # of its events
    goal: tuple[str, str] | None  # title, description
    lookers: set[str]  # actors with seen marks


def _in_np(run: ah.Run) -> InNp:
    """What the run left in np's database."""
    conn = sqlite3.connect(run.home / ".local" / "share" / "np" / "np.db")
    try:
        return InNp(
            dict(conn.execute("SELECT title, status FROM tasks").fetchall()),
            {a for (a,) in conn.execute("SELECT DISTINCT actor FROM events")},
            conn.execute("SELECT title, description FROM goals").fetchone(),
            {a for (a,) in conn.execute("SELECT actor FROM seen")},
        )
    finally:
        conn.close()


@pytest.mark.parametrize("door", ["mcp", "cli"])
@pytest.mark.parametrize("host", list(ah.HOSTS))
def test_host_runs_the_flow(host: str, door: str, base: Path, model: ah.FakeModel) -> None:
    if host not in SELECTED:
        pytest.skip(f"real agent hosts run with `make hosts` ({host} is not in NP_HOSTS)")
    run = ah.run_host(host, door, NP_BIN, model, base)
    mains = run.main_requests()
    first = ah.np_tools_offered(run, mains[0]) if mains and door == "mcp" else 0
    _summary(base, run, first)
    where = f"{host}/{door}: see {run.logdir}"
    assert not run.timed_out, where
    assert mains, f"the host never asked the model for a turn ({where})"
    last = str(mains[-1].get("why"))
    assert last.startswith("main:done@"), f"the script did not finish: {last} ({where})"
    assert int(last.split("@")[1]) >= len(fm.SCRIPTS[door]), where
    results = ah.tool_results(run)
    assert any("Changed by others" in r for r in results), f"no operator notice ({where})"
    if door == "mcp":
        assert first == len(ah.NP_TOOLS), f"first request offered {first} np tools ({where})"
        assert not any(str(r.get("why")).startswith("main:warmup") for r in mains), where
        failed = [r for r in results if "Failed (" in r]
        # the script's three deliberate errors: no session, no reason, an unknown id
        assert len(failed) == 3, (failed, where)
        assert any("Failed (reason_required)" in r for r in failed), where
    else:
        assert sum("np: " in r for r in results) >= 2, (results, where)
        assert not any("command not found" in r for r in results), where


def test_claude_checklist_bridged_by_np_hooks(base: Path, model: ah.FakeModel) -> None:
    """`np hooks claude --install`, then Claude Code keeps its own checklist (TaskCreate,
    TaskUpdate) with no word of np: the items become np tasks by `claude-code`, and the
    operator's change reaches the model as context."""
    run, where, mains = _bridged("claude", "hooks", base, model)
    assert str(mains[-1].get("why")).startswith("main:done@"), where
    tasks, actors, _, lookers = _in_np(run)
    assert tasks == {
        "Check the licence": "pending",  # the operator's, before the agent started
        "Write hello.py": "completed",
        "Update the README": "cancelled",  # by the operator, mid-run
        "Write the changelog": "pending",  # the operator's, as the agent finished
    }, where
    # the agent as np mcp records it: Claude Code's session id is part of the name, and
    # its MCP read is the same actor as its hooks (the seen marks: one claude-code#…)
    agent = actors - {"operator"}
    assert len(agent) == 1 and next(iter(agent)).startswith("claude-code#"), (actors, where)
    assert {a for a in lookers if a.startswith("claude-code")} == agent, (lookers, where)
    read = [r for r in ah.tool_results(run) if "Check the licence" in r]
    assert read and "Changed by others" not in read[-1], (read, where)
    told = [r for r in mains if "Changed by others" in json.dumps(r.get("body"))]
    assert told, f"the operator's change never reached the model ({where})"
    # SessionStart: the plan, in the first request; Stop: held once with the last news
    assert "Check the licence" in json.dumps(mains[0].get("body")), where
    assert "Write the changelog" in json.dumps(mains[-1].get("body")), where
    assert "Write the changelog" not in json.dumps(mains[-2].get("body")), where


@pytest.mark.parametrize("host", ["claude", "codex"])
def test_news_between_two_prompts_reaches_the_second(
    host: str, base: Path, model: ah.FakeModel
) -> None:
    """Two user prompts in one host session, wired as the README says (np hooks HOST
    --install, np mcp): in the first turn the agent keeps its own checklist and asks the
    operator a question over MCP; between the prompts (no tool call) the operator answers
    it and adds a task; the first model request of the second turn carries np's "changed
    by others" notice and the answer, brought by the UserPromptSubmit hook. Claude Code:
    two messages on its stream-json input; Codex: ``codex exec``, then ``codex exec resume
    --last`` with the second prompt, its hooks trusted by np hooks codex --install."""
    if host not in SELECTED:
        pytest.skip(f"real agent hosts run with `make hosts` ({host} is not in NP_HOSTS)")
    told: list[str] = []

    def between(run: ah.Run) -> None:
        listed = ah.as_operator(run, NP_BIN, "--json", "t")
        tasks = json.loads(listed.stdout or "{}").get("tasks") or []
        for task in tasks:
            if task["title"] == "Pick a licence":
                told.append(ah.as_operator(run, NP_BIN, "q", "a", "-i", task["id"], "-a",
                                           "MIT").stderr)  # fmt: skip
        told.append(ah.as_operator(run, NP_BIN, "t", "a", "-t", "Write the changelog").stderr)

    run = ah.run_host(host, "turns", NP_BIN, model, base, between=between)
    where = f"{host}/turns: see {run.logdir}"
    mains = run.main_requests()
    assert not run.timed_out and mains, where
    assert told == ["", ""], (told, where)  # the question was asked, and answered
    whys = [str(r.get("why")) for r in mains]
    second = [i for i, why in enumerate(whys) if why.startswith("main:turn2")]
    assert second and second[0] > 0, (whys, where)
    assert whys[second[0] - 1] == f"main:done@{len(fm.SCRIPTS['turns'])}", (whys, where)
    before = json.dumps(mains[second[0] - 1].get("body"))
    after = json.dumps(mains[second[0]].get("body"))
    assert "Write the changelog" not in before and "Answer from" not in before, where
    assert "Changed by others" in after and "Write the changelog" in after, where
    assert "Answer from operator" in after and "MIT" in after, where
    hook = ah.hook_context(run, mains[second[0]])
    assert "Write the changelog" in hook and "MIT" in hook, (hook, where)


def test_claude_todo_list_bridged_by_np_hooks(base: Path, model: ah.FakeModel) -> None:
    """Claude Code 2.1.332 offers TodoWrite instead of its Task tools when
    CLAUDE_CODE_ENABLE_TASKS=false (its TodoWrite is enabled when the Task tools are not):
    `np hooks claude --install`, then the whole list each write, with no word of np: the
    items become np tasks by the agent, the operator's cancel between two writes is kept
    and reaches the model, and a task the operator adds as the agent finishes holds it once
    (Stop)."""
    run, where, mains = _bridged("claude", "todo", base, model)
    assert str(mains[-1].get("why")).startswith("main:done@2"), where
    assert any(c.get("name") == "TodoWrite" for c in ah.conversation(mains[-1]).calls()), where
    tasks, actors, *_ = _in_np(run)
    assert tasks == WHOLE_LIST_PLAN, where
    agent = actors - {"operator"}
    assert len(agent) == 1 and next(iter(agent)).startswith("claude-code#"), (actors, where)
    bodies = [json.dumps(r.get("body")) for r in mains]
    assert any("Changed by others" in b and "not this week" in b for b in bodies), where
    assert "Write the changelog" in bodies[-1] and "Write the changelog" not in bodies[-2], where


@pytest.mark.parametrize("host", ["claude", "codex"])
def test_persons_goal_bridged_by_np_hooks(host: str, base: Path, model: ah.FakeModel) -> None:
    """The person sets the host's goal, wired with np hooks HOST --install: Claude Code with
    `claude -p "/goal …"`; Codex as its /goal command does (the app server's
    thread/goal/set, origin "user", here from an app-server client), then a turn. Neither
    fires a hook for the goal itself; np's hooks make it np's goal from the session's
    transcript, set by the person."""
    run, where, mains = _bridged(host, "goal", base, model)
    said = {"claude": "Goal set: Print hello", "codex": "User set the goal"}[host]
    assert said in json.dumps(mains[0].get("body")), where  # the host took the goal
    _, actors, goal, _ = _in_np(run)
    assert goal is not None and goal[0] == fm.GOAL_T and "the person" in goal[1], where
    agent = {"claude": "claude-code#", "codex": "codex-mcp-client"}[host]
    assert len(actors) == 1 and next(iter(actors)).startswith(agent), (actors, where)


def test_codex_plan_and_goal_bridged_by_np_hooks(base: Path, model: ah.FakeModel) -> None:
    """`np hooks codex --install` (Codex's plan tool enabled, as the README says), then Codex
    with no word of np: its goal (create_goal) becomes np's goal and its plan (update_plan,
    the whole list each time) np's tasks, by `codex-mcp-client` (the actor np mcp records
    for Codex); the operator's cancel between two plan writes is not undone and reaches the
    model (PostToolUse), and a task the operator adds as the agent finishes holds it once
    (Stop)."""
    run, where, mains = _bridged("codex", "hooks", base, model)
    # trusted as a person trusts them (no bypass flag): Codex's own config holds the trust
    wiring = (run.logdir / "wiring.log").read_text()
    assert "Codex now trusts this project" in wiring and "np's 4 hooks" in wiring, where
    config = (run.home / ".codex" / "config.toml").read_text()
    assert config.count('trusted_hash = "sha256:') == 4, where
    assert 'trust_level = "trusted"' in config, where
    assert str(mains[-1].get("why")).startswith("main:done@"), where
    tasks, actors, goal, _ = _in_np(run)
    assert goal is not None and goal[0] == fm.GOAL_T, where
    assert tasks == WHOLE_LIST_PLAN, where
    assert actors == {"codex-mcp-client", "operator"}, where
    bodies = [json.dumps(r.get("body")) for r in mains]
    told = [b for b in bodies if "Changed by others" in b and "not this week" in b]
    assert told, f"the operator's cancel never reached the model ({where})"
    assert "Write the changelog" in bodies[-1], where
    assert "Write the changelog" not in bodies[-2], where


def test_qwen_todo_list_bridged_by_np_hooks(base: Path, model: ah.FakeModel) -> None:
    """`np hooks qwen --install`, then Qwen Code keeps its own todo list (todo_write, the
    whole list each time) with no word of np: the items become np tasks by
    `qwen-cli-mcp-client-np` (the actor np mcp records for Qwen Code), and the operator's
    cancel between two writes is kept and reaches the model (PostToolUse); a task the
    operator adds as the agent finishes holds it once (Stop)."""
    run, where, mains = _bridged("qwen", "hooks", base, model)
    assert str(mains[-1].get("why")).startswith("main:done@"), where
    tasks, actors, *_ = _in_np(run)
    assert tasks == WHOLE_LIST_PLAN, where
    assert actors == {"qwen-cli-mcp-client-np", "operator"}, where
    told = [r for r in mains if "not this week" in json.dumps(r.get("body"))]
    assert told and "Changed by others" in json.dumps(told[0].get("body")), where
    # Stop: held once with the task the operator added as the agent finished (Qwen Code
    # says stop_hook_active on every Stop; np holds on the news alone)
    bodies = [json.dumps(r.get("body")) for r in mains]
    assert "Write the changelog" in bodies[-1], where
    assert "Write the changelog" not in bodies[-2], where


@pytest.mark.parametrize("host", [*sorted(ah.DEFERRED), "codex"])
def test_every_np_tool_is_findable(host: str, base: Path, model: ah.FakeModel) -> None:
    """Hosts that keep MCP tools behind a tool search (Claude Code, Qwen Code; Codex with a
    model that has one), wired as the README says: the model searches "np", "plan", "task",
    "todo" with the host's own search; every np tool is in its tool list or in a search's
    answer (np marks its tools to be always loaded for Claude Code; Qwen Code's tool search
    is off in the README's wiring; Codex's search returns 8 results, np has 8 tools)."""
    if host not in SELECTED:
        pytest.skip(f"real agent hosts run with `make hosts` ({host} is not in NP_HOSTS)")
    run = ah.run_host(host, "search", NP_BIN, model, base)
    where = f"{host}/search: see {run.logdir}"
    assert not run.timed_out and run.main_requests(), where
    found = ah.findable(run)
    line = {"host": host, "door": "search", "findable": found}
    with (base / "summary.jsonl").open("a") as out:
        out.write(json.dumps(line) + "\n")
    print(json.dumps(line))
    reached = {t for names in found.values() for t in names}
    assert reached == set(ah.NP_TOOLS), (found, where)
    if host == "codex":
        # Codex 0.171.0 always defers MCP tools when the model has its tool search: the
        # first request names np's namespace (with np's instructions); each of the four
        # words finds all eight
        first_body = json.dumps(run.main_requests()[0].get("body"))
        assert "Deferred tool namespaces" in first_body and "mcp__np" in first_body, where
        assert all(found[w] == list(ah.NP_TOOLS) for w in fm.SEARCH_WORDS), (found, where)
    else:
        first = ah.np_tools_offered(run, run.main_requests()[0])
        assert first == len(ah.NP_TOOLS), (first, where)
