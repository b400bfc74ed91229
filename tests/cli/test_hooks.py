"""``np hooks`` and ``np bridge``: Claude Code's own checklist becomes np tasks and events
(actor ``claude-code``), and np's "changed by others" notice goes back as the next turn's
context. Real ``np`` processes fed the hook events Claude Code sends, real SQLite files."""

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
    *args: str, db: Path, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NP_DB": str(db), "XDG_STATE_HOME": str(db.parent / "state")}
    env.pop("NP_DEBUG", None)
    return subprocess.run(
        [*NP, *args], input=stdin, capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


def _hook(db: Path, project: Path, event: dict[str, Any]) -> dict[str, Any] | None:
    done = _np("bridge", db=db, cwd=project, stdin=json.dumps({"cwd": str(project), **event}))
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
