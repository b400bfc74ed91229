"""``np hooks`` and ``np bridge``: Claude Code's and Codex's own checklists become np tasks
and events (actor ``claude-code``, ``codex-mcp-client``: what the MCP door records for the
same agent), and np's "changed by others" notice goes back as the next turn's context. Real
``np`` processes fed the hook events the hosts send, real SQLite files."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

NP = [str(Path(sys.executable).parent / "np")]


def _np(
    *args: str, db: Path, cwd: Path, stdin: str | None = None, **more: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NP_DB": str(db), "XDG_STATE_HOME": str(db.parent / "state"), **more}
    env.pop("NP_DEBUG", None)
    return subprocess.run(
        [*NP, *args], input=stdin, capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


def _hook(db: Path, project: Path, event: dict[str, Any], *host: str) -> dict[str, Any] | None:
    given = json.dumps({"cwd": str(project), **event})
    done = _np("bridge", *host, db=db, cwd=project, stdin=given)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def _todo(*items: tuple[str, str]) -> dict[str, Any]:
    todos = [{"content": c, "status": s, "activeForm": c} for c, s in items]
    return {
        "hook_event_name": "PostToolUse",
        "tool_name": "TodoWrite",
        "tool_input": {"todos": todos},
        "tool_response": {},
    }


def test_hooks_print_and_install(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / ".claude").mkdir(parents=True)
    settings = project / ".claude" / "settings.json"
    settings.write_text(json.dumps({"model": "x", "hooks": {"Stop": [{"hooks": []}]}}))
    printed = _np("hooks", "claude", db=tmp_path / "np.db", cwd=project)
    assert printed.returncode == 0, printed.stderr
    hooks = json.loads(printed.stdout)["hooks"]
    assert set(hooks) == {"PostToolUse", "UserPromptSubmit", "SessionStart", "Stop"}
    assert hooks["PostToolUse"][0]["matcher"] == "TodoWrite|TaskCreate|TaskUpdate"
    for _ in range(2):  # installing twice leaves one copy, and keeps what was there
        done = _np("hooks", "claude", "--install", db=tmp_path / "np.db", cwd=project)
        assert done.returncode == 0, done.stderr
    merged = json.loads(settings.read_text())
    assert merged["model"] == "x"
    assert len(merged["hooks"]["Stop"]) == 2
    assert json.dumps(merged).count("np bridge") == 4
    assert _np("hooks", "cursor", db=tmp_path / "np.db", cwd=project).returncode == 2


def test_checklist_becomes_the_plan_and_notices_come_back(tmp_path: Path) -> None:
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()
    # before anything is planned, a prompt reads nothing and creates no database
    assert _hook(db, project, {"hook_event_name": "UserPromptSubmit", "prompt": "hi"}) is None
    assert not db.exists()

    first = _todo(("Write hello.py", "in_progress"), ("Add a test", "pending"))
    assert _hook(db, project, first) is None  # its own writes are no news
    second = _todo(
        ("Write hello.py", "completed"), ("Add a test", "in_progress"), ("Update docs", "pending")
    )
    assert _hook(db, project, second) is None
    conn = sqlite3.connect(db)
    try:
        tasks = dict(conn.execute("SELECT title, status FROM tasks").fetchall())
        actors = {a for (a,) in conn.execute("SELECT DISTINCT actor FROM events")}
    finally:
        conn.close()
    assert tasks == {
        "Write hello.py": "completed",
        "Add a test": "in_progress",
        "Update docs": "pending",
    }
    assert actors == {"claude-code"}

    listed = _np("--json", "t", db=db, cwd=project)
    docs = next(t["id"] for t in json.loads(listed.stdout)["tasks"] if t["title"] == "Update docs")
    operator = _np(
        "--actor", "operator", "t", "u", "-i", docs, "-s", "cancelled", "-r", "frozen",
        db=db, cwd=project,
    )  # fmt: skip
    assert operator.returncode == 0, operator.stderr
    told = _hook(db, project, {"hook_event_name": "UserPromptSubmit", "prompt": "go on"})
    assert told is not None
    context = told["hookSpecificOutput"]["additionalContext"]
    assert told["hookSpecificOutput"]["hookEventName"] == "UserPromptSubmit"
    assert "Changed by others" in context and "operator" in context and "frozen" in context
    # told once
    assert _hook(db, project, {"hook_event_name": "UserPromptSubmit", "prompt": "x"}) is None

    # Stop: held once with the news, then let go
    again = _np("--actor", "operator", "t", "u", "-i", docs, "-s", "pending", db=db, cwd=project)
    assert again.returncode == 0, again.stderr
    held = _hook(db, project, {"hook_event_name": "Stop", "stop_hook_active": False})
    assert held is not None and held["decision"] == "block" and "operator" in held["reason"]
    assert _hook(db, project, {"hook_event_name": "Stop", "stop_hook_active": True}) is None

    start = _hook(db, project, {"hook_event_name": "SessionStart", "source": "startup"})
    assert start is not None
    assert "Add a test" in start["hookSpecificOutput"]["additionalContext"]


def test_a_resumed_session_hears_the_news_with_its_prompt_once(tmp_path: Path) -> None:
    """Codex and Claude Code run SessionStart (source "resume") when a session is resumed,
    then UserPromptSubmit with the prompt that resumes it: the news comes with the prompt,
    once, and the resumed conversation (which holds the plan) is not given it again."""
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()
    assert _hook(db, project, _plan(("Write hello.py", "in_progress")), "codex") is None
    added = _np("--actor", "operator", "t", "a", "-t", "Write the changelog", db=db, cwd=project)
    assert added.returncode == 0, added.stderr
    resumed = {"hook_event_name": "SessionStart", "source": "resume"}
    assert _hook(db, project, resumed, "codex") is None
    told = _hook(db, project, {"hook_event_name": "UserPromptSubmit", "prompt": "go on"}, "codex")
    assert told is not None
    assert "Write the changelog" in told["hookSpecificOutput"]["additionalContext"]
    assert _hook(db, project, {"hook_event_name": "UserPromptSubmit", "prompt": "x"}) is None
    started = _hook(db, project, {"hook_event_name": "SessionStart", "source": "startup"}, "codex")
    assert started is not None  # a new session: the plan
    assert "Write the changelog" in started["hookSpecificOutput"]["additionalContext"]


def test_a_hook_never_breaks_the_host(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    done = _np("bridge", db=tmp_path / "np.db", cwd=project, stdin="not json")
    assert done.returncode == 0 and done.stdout == "" and "np bridge" in done.stderr


def test_task_tools_are_bridged_by_the_hosts_own_ids(tmp_path: Path) -> None:
    """Claude Code 2.1's TaskCreate / TaskUpdate: an update names the item by the host's id."""
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()

    def tool(name: str, given: dict[str, Any], answer: dict[str, Any]) -> None:
        event = {"hook_event_name": "PostToolUse", "session_id": "s-1", "tool_name": name,
                 "tool_input": given, "tool_response": answer}  # fmt: skip
        assert _hook(db, project, event) is None

    for host_id, title in (("1", "Write hello.py"), ("2", "Add a test")):
        tool("TaskCreate", {"subject": title, "description": "d"}, {"task": {"id": host_id}})
    tool("TaskUpdate", {"taskId": "1", "status": "completed"}, {"success": True})
    tool("TaskUpdate", {"taskId": "2", "status": "deleted"}, {"success": True})
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT title, status, reason FROM tasks ORDER BY title").fetchall()
    finally:
        conn.close()
    assert rows == [
        ("Add a test", "cancelled", "removed from the agent's checklist"),
        ("Write hello.py", "completed", None),
    ]


def _tasks(db: Path) -> tuple[dict[str, str], set[str]]:
    conn = sqlite3.connect(db)
    try:
        tasks = dict(conn.execute("SELECT title, status FROM tasks").fetchall())
        actors = {a for (a,) in conn.execute("SELECT DISTINCT actor FROM events")}
    finally:
        conn.close()
    return tasks, actors


def _cancel(db: Path, project: Path, title: str) -> None:
    listed = json.loads(_np("--json", "t", db=db, cwd=project).stdout)["tasks"]
    task = next(t["id"] for t in listed if t["title"] == title)
    done = _np(
        "--actor", "operator", "t", "u", "-i", task, "-s", "cancelled", "-r", "frozen",
        db=db, cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_codex_hooks_print_and_install(tmp_path: Path) -> None:
    """Codex 0.171.0 reads hooks.json in Claude Code's shape; np's run `np bridge codex`."""
    project = tmp_path / "p"
    (project / ".codex").mkdir(parents=True)
    path = project / ".codex" / "hooks.json"
    mine = {"type": "command", "command": "mine"}
    path.write_text(json.dumps({"hooks": {"Stop": [{"hooks": [mine]}]}}))
    printed = _np("hooks", "codex", db=tmp_path / "np.db", cwd=project)
    assert printed.returncode == 0, printed.stderr
    hooks = json.loads(printed.stdout)["hooks"]
    assert set(hooks) == {"PostToolUse", "UserPromptSubmit", "SessionStart", "Stop"}
    assert hooks["PostToolUse"][0]["matcher"] == "update_plan|create_goal"
    assert {h["command"] for e in hooks.values() for h in e[0]["hooks"]} == {"np bridge codex"}
    # no codex on PATH (and were one found, its config is this test's own)
    alone = {"PATH": NP[0].rsplit("/", 1)[0], "CODEX_HOME": str(tmp_path / "codex")}
    for _ in range(2):
        done = _np("hooks", "codex", "--install", db=tmp_path / "np.db", cwd=project, **alone)
        assert done.returncode == 0, done.stderr
        # Codex runs trusted hooks only; with no codex to ask, the exact steps
        assert "codex is not on PATH" in done.stdout, done.stdout
        assert "/hooks" in done.stdout and "trust the folder" in done.stdout, done.stdout
        assert "[tools.update_plan] enabled = true" in done.stdout  # its plan tool is off
    merged = json.loads(path.read_text())
    assert set(merged) == {"hooks"}  # Codex refuses a hooks.json with other top-level keys
    assert len(merged["hooks"]["Stop"]) == 2 and "mine" in json.dumps(merged)
    assert json.dumps(merged).count("np bridge codex") == 4
    assert not (project / ".claude").exists()


def _plan(*items: tuple[str, str]) -> dict[str, Any]:
    """Codex's PostToolUse event for its plan tool (update_plan), as Codex 0.171.0 sends it."""
    return {
        "hook_event_name": "PostToolUse",
        "session_id": "019b-codex-thread",
        "turn_id": "t1",
        "model": "gpt",
        "permission_mode": "bypassPermissions",
        "transcript_path": None,
        "tool_name": "update_plan",
        "tool_use_id": "call_1",
        "tool_input": {"explanation": "x", "plan": [{"step": s, "status": st} for s, st in items]},
        "tool_response": "Plan updated",
    }


def test_codex_plan_becomes_the_plan_and_the_operator_is_not_undone(tmp_path: Path) -> None:
    """update_plan sends the whole list every time: an item the agent did not touch is not
    set back over the operator's change, and the change reaches the agent as context."""
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()
    first = _plan(("Write hello.py", "in_progress"), ("Update the README", "pending"))
    assert _hook(db, project, first, "codex") is None
    _cancel(db, project, "Update the README")
    second = _plan(("Write hello.py", "completed"), ("Update the README", "pending"))
    told = _hook(db, project, second, "codex")
    assert told is not None
    out = told["hookSpecificOutput"]
    assert out["hookEventName"] == "PostToolUse"
    assert "Changed by others" in out["additionalContext"]
    assert "operator" in out["additionalContext"] and "frozen" in out["additionalContext"]
    tasks, actors = _tasks(db)
    assert tasks == {"Write hello.py": "completed", "Update the README": "cancelled"}
    assert actors == {"codex-mcp-client", "operator"}
    # told once
    assert _hook(db, project, {"hook_event_name": "UserPromptSubmit"}, "codex") is None


def test_a_change_over_the_operators_unseen_one_is_refused_once(tmp_path: Path) -> None:
    """The agent sets a status the operator changed after the agent last looked: np's rule
    (no blind override) holds through the bridge: refused with the news as context, the
    rest of the write applied; the same status written again is applied."""
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()
    assert _hook(db, project, _plan(("A", "in_progress"), ("B", "pending")), "codex") is None
    _cancel(db, project, "B")
    told = _hook(db, project, _plan(("A", "completed"), ("B", "in_progress")), "codex")
    assert told is not None and "frozen" in told["hookSpecificOutput"]["additionalContext"]
    assert _tasks(db)[0] == {"A": "completed", "B": "cancelled"}
    assert _hook(db, project, _plan(("A", "completed"), ("B", "in_progress")), "codex") is None
    assert _tasks(db)[0] == {"A": "completed", "B": "in_progress"}


def test_claude_code_agent_is_the_mcp_doors_actor(tmp_path: Path) -> None:
    """Claude Code's session id is part of its agent's name at every door."""
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()
    event = {**_todo(("Write hello.py", "pending")), "session_id": "4f1c2a9e-77aa-4bcd"}
    assert _hook(db, project, event) is None
    assert _tasks(db)[1] == {"claude-code#4f1c2a9e"}
    assert _np("bridge", "cursor", db=db, cwd=project, stdin="{}").returncode == 0


def _goal_and_events(db: Path) -> tuple[Any, list[Any]]:
    """np's goal (title, description) and its events (type, actor, reason), in order."""
    conn = sqlite3.connect(db)
    try:
        goal = conn.execute("SELECT title, description FROM goals").fetchone()
        events = conn.execute("SELECT type, actor, reason FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()
    return goal, events


def test_codex_goal_becomes_the_plans_goal(tmp_path: Path) -> None:
    """Codex's own goal tool (create_goal; its /goal sets the same goal): the plan's goal,
    set by the agent, or changed with a reason when the agent sets a new one."""
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()

    def create_goal(objective: str) -> dict[str, Any]:
        return {**_plan(), "tool_name": "create_goal", "tool_input": {"objective": objective},
                "tool_response": {"goal": {"objective": objective}}}  # fmt: skip

    assert _hook(db, project, create_goal("Print hello\nfrom a script"), "codex") is None
    assert _hook(db, project, create_goal("Ship hello.py"), "codex") is None
    goal, events = _goal_and_events(db)
    assert goal[0] == "Ship hello.py" and "Ship hello.py" in goal[1]
    assert [e[0] for e in events] == ["session_started", "goal_set", "goal_updated"]
    assert {e[1] for e in events} == {"codex-mcp-client"}
    assert events[2][2] == "the agent set a new goal in its host"


def _goal_line(objective: str) -> str:
    """A line of Codex 0.171.0's transcript (its rollout file) as Codex writes it when the
    person sets a goal (/goal, or an app-server client's thread/goal/set)."""
    text = (
        '<codex_internal_context source="user_goal">\n'
        f"User set the goal: {json.dumps(objective)}\n</codex_internal_context>"
    )
    content = [{"type": "input_text", "text": text}]
    item = {"type": "message", "role": "user", "content": content}
    return json.dumps({"timestamp": "2026-12-06T07:11:17.328Z", "ordinal": 2,
                       "type": "response_item", "payload": item}) + "\n"  # fmt: skip


def test_the_persons_codex_goal_becomes_the_plans_goal(tmp_path: Path) -> None:
    """Codex fires no hook when the person sets a goal; it writes it into the transcript
    the hook events name. The next hook (the goal turn's own) makes it np's goal, once;
    a newer one changes it, saying so; a line still being written waits for the next."""
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()
    transcript = tmp_path / "rollout.jsonl"
    transcript.write_text('{"type":"session_meta","payload":{}}\n' + _goal_line('Say "hi"'))
    event = {"hook_event_name": "UserPromptSubmit", "prompt": "go", "session_id": "s1",
             "transcript_path": str(transcript)}  # fmt: skip
    assert _hook(db, project, event, "codex") is None
    assert _hook(db, project, {**event, "hook_event_name": "Stop"}, "codex") is None  # once
    with transcript.open("a") as more:
        more.write(_goal_line("Print hello\nfrom a script"))
        more.write(_goal_line("not yet")[:40])  # a line Codex is still writing
    assert _hook(db, project, {**event, "hook_event_name": "Stop"}, "codex") is None
    goal, events = _goal_and_events(db)
    assert goal[0] == "Print hello"
    assert goal[1].startswith("Print hello\nfrom a script") and "the person" in goal[1]
    assert [e[0] for e in events] == ["session_started", "goal_set", "goal_updated"], events
    assert {e[1] for e in events} == {"codex-mcp-client"}
    assert events[-1][2] == "the person set a new goal in its host"


def test_the_persons_claude_goal_becomes_the_plans_goal(tmp_path: Path) -> None:
    """Claude Code 2.1.332 records `/goal …` in its transcript as a local command; the
    next hook makes it np's goal (`/goal clear` clears Claude Code's, not np's)."""
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()
    transcript = tmp_path / "session.jsonl"

    def goal_command(args: str) -> str:
        said = f"<local-command-stdout>Goal set: {args}</local-command-stdout>"
        return json.dumps({"type": "system", "subtype": "local_command", "content": said,
                           "commandRun": {"command": "goal", "args": args}}) + "\n"  # fmt: skip

    transcript.write_text(goal_command("hello.py prints hello") + goal_command("clear"))
    event = {"hook_event_name": "Stop", "session_id": "c1", "transcript_path": str(transcript)}
    assert _hook(db, project, event) is None
    goal, events = _goal_and_events(db)
    assert goal[0] == "hello.py prints hello" and "the person" in goal[1]
    assert [e[0] for e in events] == ["session_started", "goal_set"]
    assert {e[1] for e in events} == {"claude-code#c1"}


def test_the_operators_answer_reaches_the_agent_that_asked(tmp_path: Path) -> None:
    """The agent asked over another door (np mcp / the CLI, as the same actor); the
    operator's answer comes into its next turn through the hook."""
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()
    assert _hook(db, project, _plan(("Pick a licence", "in_progress")), "codex") is None
    task = json.loads(_np("--json", "t", db=db, cwd=project).stdout)["tasks"][0]["id"]
    asked = _np("--actor", "codex-mcp-client", "t", "q", "-i", task, "-q", "MIT or GPL?",
                "-o", "MIT", "-o", "GPL", db=db, cwd=project)  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    answered = _np("--actor", "operator", "q", "a", "-i", task, "-a", "MIT", db=db, cwd=project)
    assert answered.returncode == 0, answered.stderr
    told = _hook(db, project, {"hook_event_name": "UserPromptSubmit", "prompt": "go"}, "codex")
    assert told is not None
    assert "Answer from operator" in told["hookSpecificOutput"]["additionalContext"]
    assert "MIT" in told["hookSpecificOutput"]["additionalContext"]


def test_a_task_another_agent_holds_is_left_to_it_and_the_agent_told(tmp_path: Path) -> None:
    """Another agent's live claim (np next) on an item: the bridge's status change is not
    taken, the agent is told why as context, and the rest of its write is applied."""
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()
    assert _hook(db, project, _plan(("A", "pending"), ("B", "pending")), "codex") is None
    claimed = _np("--actor", "ana", "next", db=db, cwd=project)
    assert claimed.returncode == 0, claimed.stderr
    write = _plan(("A", "completed"), ("B", "in_progress"))
    told = _hook(db, project, write, "codex")  # first the news of ana's claim, unseen
    assert told is not None and "ana" in told["hookSpecificOutput"]["additionalContext"]
    assert _tasks(db)[0] == {"A": "in_progress", "B": "in_progress"}
    told = _hook(db, project, write, "codex")  # written again: the claim is ana's to end
    assert told is not None
    context = told["hookSpecificOutput"]["additionalContext"]
    assert "np did not take this change" in context and "ana" in context
    assert _tasks(db)[0] == {"A": "in_progress", "B": "in_progress"}  # A is still ana's


def test_parallel_checklist_calls_of_one_session_lose_nothing(tmp_path: Path) -> None:
    """Several TaskCreate in one model turn run their hooks at once: every item's np task
    is remembered (a later TaskUpdate by the host's id reaches each)."""
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()
    env = {**os.environ, "NP_DB": str(db), "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("NP_DEBUG", None)
    assert _hook(db, project, _todo(("Warm up", "pending"))) is None  # the plan exists
    n = 6
    procs = []
    for i in range(n):
        event = {"cwd": str(project), "hook_event_name": "PostToolUse", "session_id": "s-par",
                 "tool_name": "TaskCreate", "tool_input": {"subject": f"Item {i}"},
                 "tool_response": {"task": {"id": str(i)}}}  # fmt: skip
        pipe = subprocess.PIPE
        proc = subprocess.Popen(
            [*NP, "bridge"], stdin=pipe, stdout=pipe, stderr=pipe, text=True, env=env, cwd=project
        )
        procs.append((proc, json.dumps(event)))
    for proc, event in procs:
        assert proc.stdin is not None
        proc.stdin.write(event)
        proc.stdin.close()
    for proc, _ in procs:
        assert proc.wait(timeout=60) == 0
        assert proc.stderr is not None and proc.stderr.read() == ""
    for i in range(n):
        event = {"hook_event_name": "PostToolUse", "session_id": "s-par",
                 "tool_name": "TaskUpdate", "tool_input": {"taskId": str(i), "status": "completed"},
                 "tool_response": {"success": True}}  # fmt: skip
        _hook(db, project, event)
    tasks = _tasks(db)[0]
    assert {t: s for t, s in tasks.items() if t.startswith("Item")} == {
        f"Item {i}": "completed" for i in range(n)
    }


def test_qwen_hooks_print_and_install(tmp_path: Path) -> None:
    """Qwen Code: Claude Code's hook format in .qwen/settings.json, its timeout in ms."""
    project = tmp_path / "p"
    (project / ".qwen").mkdir(parents=True)
    (project / ".qwen" / "settings.json").write_text(json.dumps({"model": {"name": "x"}}))
    printed = _np("hooks", "qwen", db=tmp_path / "np.db", cwd=project)
    assert printed.returncode == 0, printed.stderr
    hooks = json.loads(printed.stdout)["hooks"]
    assert hooks["PostToolUse"][0]["matcher"] == "^(todo_write|TodoWrite)$"
    assert {h["timeout"] for e in hooks.values() for h in e[0]["hooks"]} == {30_000}
    done = _np("hooks", "qwen", "--install", db=tmp_path / "np.db", cwd=project)
    assert done.returncode == 0 and "trusted folder" in done.stdout, done.stderr
    merged = json.loads((project / ".qwen" / "settings.json").read_text())
    assert merged["model"] == {"name": "x"}
    assert json.dumps(merged).count("np bridge qwen") == 4


def test_qwen_stop_is_held_once_though_it_always_says_held(tmp_path: Path) -> None:
    """Qwen Code 0.15.10 sends ``stop_hook_active: true`` on every Stop: its stop is held
    with the news (which is then seen), and let go at the next Stop."""
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()
    todo = {**_todo(("Write hello.py", "completed")), "tool_name": "todo_write"}
    assert _hook(db, project, todo, "qwen") is None
    added = _np("--actor", "operator", "t", "a", "-t", "Write the changelog", db=db, cwd=project)
    assert added.returncode == 0, added.stderr
    stop = {"hook_event_name": "Stop", "stop_hook_active": True, "last_assistant_message": "x"}
    held = _hook(db, project, stop, "qwen")
    assert held is not None and held["decision"] == "block"
    assert "Write the changelog" in held["reason"]
    assert _hook(db, project, stop, "qwen") is None
    # Claude Code's flag does mean a Stop hook held it already
    again = _np("--actor", "operator", "t", "a", "-t", "Tag it", db=db, cwd=project)
    assert again.returncode == 0, again.stderr
    assert _hook(db, project, stop, "claude") is None


def test_hook_state_is_private_and_garbage_is_one_sentence(tmp_path: Path) -> None:
    """The hook state holds the agent's checklist: 0700 folders and 0600 files, as the
    database (also a folder an older np made 0755). Input that is not JSON is one sentence
    on stderr, exit 0, never a Python exception's repr: a hook never breaks its host."""
    db, project = tmp_path / "np.db", tmp_path / "p"
    project.mkdir()
    hooks = tmp_path / "state" / "np" / "hooks"
    hooks.mkdir(parents=True, mode=0o755)
    event = {"hook_event_name": "PostToolUse", "session_id": "s-1", "tool_name": "TaskCreate",
             "tool_input": {"subject": "One"}, "tool_response": {"task": {"id": "1"}}}  # fmt: skip
    assert _hook(db, project, event) is None
    files = list(hooks.iterdir())
    assert files
    assert {f.stat().st_mode & 0o777 for f in files} == {0o600}
    assert (hooks.stat().st_mode & 0o777, hooks.parent.stat().st_mode & 0o777) == (0o700, 0o755)
    for garbage in ("garbage", "{", "[1, 2"):
        done = _np("bridge", "claude", db=db, cwd=project, stdin=garbage)
        assert done.returncode == 0, done
        assert done.stdout == ""
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and "not a JSON event" in lines[0], done.stderr
        assert "Error(" not in done.stderr
