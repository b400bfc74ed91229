"""``np hooks`` and ``np bridge``: an agent host's own checklist becomes np's plan, and np's
"changed by others" notice reaches the agent's next turn, with no instruction to the model.

* ``np hooks claude`` prints Claude Code hook settings (``--install`` merges them into the
  project's ``.claude/settings.json``): ``PostToolUse`` on its checklist tools (TodoWrite,
  and TaskCreate / TaskUpdate, which Claude Code 2.1 offers instead),
  ``UserPromptSubmit``, ``SessionStart`` and ``Stop``, each running ``np bridge``.
* ``np bridge`` is what those hooks run: it reads the host's hook event (JSON on stdin) and
  translates it onto the command table, as the agent (actor ``claude-code``, the name the
  MCP door records for the same host):

  - a checklist written (TodoWrite's ``todos``, or Codex's ``update_plan`` ``plan``): a
    session is started if the project has none, new items become tasks (``np.task.add``)
    and changed statuses are set (``np.task.update``), matched by title; an item created
    (TaskCreate) becomes a task, and an update by the host's own id (TaskUpdate) sets its
    task's status (``deleted``: cancelled, saying so), through a small file per host session
    under ``$XDG_STATE_HOME/np/hooks``;
  - ``SessionStart``: the plan as context; ``UserPromptSubmit`` and every checklist write:
    the notice of what others changed since the agent last looked, as context;
  - ``Stop``: when others changed the plan, the stop is held once with the notice as the
    reason, so the agent reads it before it ends.

  A hook must never break the host: a failure is one line on stderr and exit 0.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from server.exits import EXIT_OK, EXIT_USAGE

ACTOR = "claude-code"
COMMAND = "np bridge"
STATUSES = {"pending", "in_progress", "completed"}
TITLE_MAX = 300  # the store's limit for a task title


def claude_settings() -> dict[str, Any]:
    """The hooks block of Claude Code's settings.json."""
    run = [{"type": "command", "command": COMMAND, "timeout": 30}]
    return {
        "hooks": {
            "PostToolUse": [{"matcher": "TodoWrite|TaskCreate|TaskUpdate", "hooks": run}],
            "UserPromptSubmit": [{"hooks": run}],
            "SessionStart": [{"hooks": run}],
            "Stop": [{"hooks": run}],
        }
    }


HOSTS = {"claude": claude_settings}


def run_hooks(host: str, install: bool, directory: str | None) -> int:
    """Print the hook settings for ``host``, or merge them into the project's settings."""
    make = HOSTS.get(host)
    if make is None:
        sys.stderr.write(f"np: np hooks knows {', '.join(HOSTS)}; not {host[:40]!r}.\n")
        return EXIT_USAGE
    settings = make()
    if not install:
        sys.stdout.write(json.dumps(settings, indent=2) + "\n")
        return EXIT_OK
    path = Path(directory or os.getcwd()) / ".claude" / "settings.json"
    current: dict[str, Any] = {}
    if path.exists():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            sys.stderr.write(f"np: {path} is not JSON; fix it or move it, then try again.\n")
            return EXIT_USAGE
    hooks = current.setdefault("hooks", {})
    for event, entries in settings["hooks"].items():
        kept = [e for e in hooks.get(event, []) if COMMAND not in json.dumps(e)]
        hooks[event] = kept + entries
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(f"np's hooks are in {path}\n")
    return EXIT_OK


def _checklist(event: dict[str, Any]) -> list[tuple[str, str]] | None:
    """(title, status) of each item of a checklist the host's tool wrote, or None."""
    tool_input = event.get("tool_input")
    if not isinstance(tool_input, dict):
        return None
    items = tool_input.get("todos")
    title_key = "content"
    if items is None:  # Codex's update_plan
        items, title_key = tool_input.get("plan"), "step"
    if not isinstance(items, list):
        return None
    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get(title_key), str):
            title = " ".join(item[title_key].split())[:TITLE_MAX]
            status = item.get("status")
            if title:
                out.append((title, status if status in STATUSES else "pending"))
    return out


def _ids_file(event: dict[str, Any]) -> Path | None:
    """Where the bridge keeps which np task each of the host's own checklist ids is (Claude
    Code's TaskUpdate names its item by that id only): one small file per host session."""
    session = "".join(c for c in str(event.get("session_id") or "") if c.isalnum() or c in "-_")
    if not session:
        return None
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(state) / "np" / "hooks" / f"{session[:80]}.json"


def _task_tools(event: dict[str, Any]) -> tuple[str, str, str | None, str | None] | None:
    """Claude Code's TaskCreate / TaskUpdate: (tool, the host's id, title, status)."""
    tool, given = event.get("tool_name"), event.get("tool_input")
    answer = event.get("tool_response")
    if not isinstance(given, dict) or not isinstance(answer, dict):
        return None
    if tool == "TaskCreate":
        task = answer.get("task")
        if isinstance(task, dict) and isinstance(given.get("subject"), str):
            title = " ".join(given["subject"].split())[:TITLE_MAX]
            return "create", str(task.get("id")), title or None, None
    if tool == "TaskUpdate" and isinstance(given.get("taskId"), str):
        status = given.get("status")
        return "update", given["taskId"], None, status if isinstance(status, str) else None
    return None


def run_bridge(db_path: str, directory: str | None) -> int:
    """Run by a host's hook: see the module's docstring. Always exits 0."""
    try:
        event = json.loads(sys.stdin.read() or "{}")
        output = _bridge(db_path, directory, event if isinstance(event, dict) else {})
    except Exception as exc:  # a hook never breaks the host
        sys.stderr.write(f"np bridge: {getattr(exc, 'message', None) or exc!r}\n")
        return EXIT_OK
    if output:
        sys.stdout.write(json.dumps(output) + "\n")
    return EXIT_OK


def _bridge(db_path: str, directory: str | None, event: dict[str, Any]) -> dict[str, Any] | None:
    from store import NoActiveSession, Store
    from store.paths import missing_file

    from ..commands import Context, execute

    name = str(event.get("hook_event_name") or "")
    cwd = str(event.get("cwd") or directory or os.getcwd())
    items = _checklist(event) if name == "PostToolUse" else None
    task_tool = _task_tools(event) if name == "PostToolUse" else None
    if task_tool is not None and task_tool[0] == "create" and task_tool[2]:
        items = [(task_tool[2], "pending")]
    if items is None and missing_file(db_path):
        return None  # nothing planned yet, and a read never creates the database
    with Store(db_path) as store:
        ctx = Context(store, cwd, f"hook:{name} ({ACTOR})", door="cli", actor=ACTOR)
        try:
            listed = execute("np.task.list", ctx, {})
        except NoActiveSession:
            if not items:
                return None
            execute("np.session.start", ctx, {})
            listed = execute("np.task.list", ctx, {})
        notice = listed.get("notice")
        if items:
            notice = _sync(ctx, execute, listed, items) or notice
        if task_tool is not None:
            notice = _task_ids(ctx, execute, event, task_tool) or notice
        if name == "SessionStart":
            plan = execute("np.plan", ctx, {})
            text = "\n\n".join(str(p) for p in (notice, plan.get("text")) if p)
            return _context(name, "np's plan for this project:\n" + text)
        if not notice:
            return None
        if name == "Stop":
            if event.get("stop_hook_active"):
                return None  # held once already: let it stop
            return {"decision": "block", "reason": str(notice)}
        return _context(name, str(notice))


def _sync(ctx: Any, execute: Any, listed: dict[str, Any], items: list[tuple[str, str]]) -> Any:
    """Add the items np does not have, set the statuses that changed; returns the notice."""
    known = {t["title"]: t for t in listed["tasks"]}
    new = [title for title, _ in dict.fromkeys(items) if title not in known]
    notice = None
    if new:
        added = execute("np.task.add", ctx, {"tasks": [{"title": t} for t in new]})
        notice = added.get("notice")
        known = {t["title"]: t for t in execute("np.task.list", ctx, {})["tasks"]}
    updates = [
        {"id": known[title]["id"], "status": status}
        for title, status in dict(items).items()
        if title in known and known[title]["status"] != status
    ]
    if updates:
        notice = execute("np.task.update", ctx, {"updates": updates}).get("notice") or notice
    return notice


def _task_ids(ctx: Any, execute: Any, event: dict[str, Any], tool: tuple[Any, ...]) -> Any:
    """Remember which np task a created item is; carry an update's status over to it
    (``deleted`` cancels it, saying so). Returns the notice, if any."""
    kind, host_id, title, status = tool
    path = _ids_file(event)
    if path is None:
        return None
    try:
        ids: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        ids = {}
    known = {t["title"]: t for t in execute("np.task.list", ctx, {})["tasks"]}
    if kind == "create":
        if title in known:
            ids[host_id] = known[title]["id"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(ids), encoding="utf-8")
        return None
    np_id = ids.get(host_id)
    current = next((t for t in known.values() if t["id"] == np_id), None)
    if current is None or status is None:
        return None
    update: dict[str, Any] = {"id": np_id, "status": status}
    if status == "deleted":
        update = {
            "id": np_id,
            "status": "cancelled",
            "reason": "removed from the agent's checklist",
        }
    elif status not in STATUSES:
        return None
    if current["status"] == update["status"]:
        return None
    return execute("np.task.update", ctx, {"updates": [update]}).get("notice")


def _context(event: str, text: str) -> dict[str, Any]:
    return {"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}}
