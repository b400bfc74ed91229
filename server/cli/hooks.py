"""``np hooks`` and ``np bridge``: an agent host's own checklist becomes np's plan, and np's
"changed by others" notice reaches the agent's next turn, with no instruction to the model.

* ``np hooks claude`` prints Claude Code hook settings (``--install`` merges them into the
  project's ``.claude/settings.json``): ``PostToolUse`` on its checklist tools (TodoWrite,
  and TaskCreate / TaskUpdate, which Claude Code 2.1 offers instead),
  ``UserPromptSubmit``, ``SessionStart`` and ``Stop``, each running ``np bridge claude``.
* ``np hooks codex`` prints the same for Codex's own hook mechanism (Codex 0.171.0 reads
  Claude Code's hook events and output from ``hooks.json``; ``--install`` merges them into
  the project's ``.codex/hooks.json``): ``PostToolUse`` on its plan tool ``update_plan``
  and its goal tool ``create_goal`` (the goal becomes the plan's goal), and the same three
  others, each running ``np bridge codex``. Codex runs a hook only once it is trusted,
  and a project's hooks only in a trusted project: ``--install`` has Codex trust both, as
  Codex's own screens do (``codex_trust.py``). Its plan tool is offered to the model only
  with ``[tools.update_plan] enabled = true``.
* ``np hooks qwen`` the same for Qwen Code (Claude Code's hook format, in the project's
  ``.qwen/settings.json``; ``PostToolUse`` on its ``todo_write``).
* ``np bridge HOST`` is what those hooks run: it reads the host's hook event (JSON on
  stdin) and translates it onto the command table, as the agent (the actor the MCP door
  records for the same agent: ``claude-code#<session>``, ``codex-mcp-client``):

  - a goal the person set in the host (Claude Code's and Codex's ``/goal``: no hook fires
    for it, so each hook reads what the session's transcript gained since the last one)
    becomes the plan's goal;
  - a checklist written (TodoWrite's ``todos``, or Codex's ``update_plan`` ``plan``): a
    session is started if the project has none, new items become tasks (``np.task.add``)
    and changed statuses are set (``np.task.update``), matched by title; an item created
    (TaskCreate) becomes a task, and an update by the host's own id (TaskUpdate) sets its
    task's status (``deleted``: cancelled, saying so), through a small file per host session
    under ``$XDG_STATE_HOME/np/hooks``;
  - ``SessionStart``: the plan as context (not when a session is resumed: its conversation
    holds the plan); ``UserPromptSubmit`` and every checklist write: the notice of what
    others changed since the agent last looked (and the operator's answers), as context;
  - ``Stop``: when others changed the plan, the stop is held once with the notice as the
    reason, so the agent reads it before it ends.

  A hook must never break the host: a failure is one line on stderr and exit 0.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.actors import with_session
from server.exits import EXIT_OK, EXIT_USAGE

COMMAND = "np bridge"
STATUSES = {"pending", "in_progress", "completed"}
TITLE_MAX = 300  # the store's limit for a task title


@dataclass(frozen=True)
class Host:
    """A host np's hooks know: its checklist tools (the ``PostToolUse`` matcher), the file
    ``--install`` writes (under the project), the name its MCP client sends, and what to
    tell the person after installing."""

    checklist_tools: str
    settings_file: str
    client: str
    after_install: str = ""
    timeout: int = 30  # how long a hook may take, in the host's unit (Qwen Code: ms)
    # whether Stop's stop_hook_active says a Stop hook already held this stop (Qwen Code
    # 0.15.10 sends true on every Stop; there the seen marks alone hold a stop once: the
    # news given with a hold is seen, so the next Stop has none)
    says_held: bool = True


HOSTS = {
    "claude": Host("TodoWrite|TaskCreate|TaskUpdate", ".claude/settings.json", "claude-code"),
    "codex": Host(
        "update_plan|create_goal",
        ".codex/hooks.json",
        "codex-mcp-client",
        "Codex's plan tool is off unless enabled: [tools.update_plan] enabled = true in "
        "config.toml (its goal, create_goal, arrives either way).",
    ),
    "qwen": Host(
        "^(todo_write|TodoWrite)$",
        ".qwen/settings.json",
        "qwen-cli-mcp-client-np",
        "With Qwen Code's folder trust on (security.folderTrust.enabled; off by default), "
        "it runs a project's hooks only in a trusted folder: trust it when Qwen Code asks "
        "(/permissions), or install them in ~/.qwen/settings.json instead.",
        timeout=30_000,
        says_held=False,
    ),
}


def settings(host: str) -> dict[str, Any]:
    """The hooks block of ``host``'s settings: every event runs ``np bridge HOST``."""
    run = [{"type": "command", "command": f"{COMMAND} {host}", "timeout": HOSTS[host].timeout}]
    return {
        "hooks": {
            "PostToolUse": [{"matcher": HOSTS[host].checklist_tools, "hooks": run}],
            "UserPromptSubmit": [{"hooks": run}],
            "SessionStart": [{"hooks": run}],
            "Stop": [{"hooks": run}],
        }
    }


def _known(host: str | None) -> Host | None:
    found = HOSTS.get(host or "")
    if found is None:
        sys.stderr.write(f"np: np hooks knows {', '.join(HOSTS)}; not {str(host)[:40]!r}.\n")
    return found


def run_hooks(host: str, install: bool, directory: str | None) -> int:
    """Print the hook settings for ``host``, or merge them into the project's settings."""
    known = _known(host)
    if known is None:
        return EXIT_USAGE
    wanted = settings(host)
    if not install:
        sys.stdout.write(json.dumps(wanted, indent=2) + "\n")
        return EXIT_OK
    path = Path(directory or os.getcwd()).resolve() / known.settings_file
    current: dict[str, Any] = {}
    if path.exists():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            sys.stderr.write(f"np: {path} is not JSON; fix it or move it, then try again.\n")
            return EXIT_USAGE
    hooks = current.setdefault("hooks", {})
    for event, entries in wanted["hooks"].items():
        kept = [e for e in hooks.get(event, []) if COMMAND not in json.dumps(e)]
        hooks[event] = kept + entries
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(f"np's hooks are in {path}\n")
    if host == "codex":
        _trust_in_codex(path, len(wanted["hooks"]))
    if known.after_install:
        sys.stdout.write(known.after_install + "\n")
    return EXIT_OK


def _trust_in_codex(path: Path, wanted: int) -> None:
    """Codex runs a project's hooks only in a trusted project, and each only once trusted:
    np asks Codex to trust both, as Codex's own screens do (server/cli/codex_trust.py), or
    says exactly what to do when Codex cannot be asked."""
    from .codex_trust import CodexUnavailable, trust

    project = path.parent.parent
    try:
        sys.stdout.write(trust(project, path, f"{COMMAND} codex", wanted) + "\n")
    except (CodexUnavailable, OSError) as exc:
        sys.stdout.write(
            f"Codex does not run them yet ({exc}): run codex in {project}, trust the folder "
            f"when Codex asks, then /hooks and trust np's {wanted} hooks (for automation that "
            "vets its hooks: codex exec --trust --dangerously-bypass-hook-trust).\n"
        )


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


def _state_file(event: dict[str, Any]) -> Path | None:
    """Where the bridge keeps what it knows of one host session (one small file per
    session): which np task each of the host's own checklist ids is (Claude Code's
    TaskUpdate names its item by that id only), and the checklist as the agent last wrote
    it (a checklist tool sends the whole list each time; only what the agent changed in it
    is the agent's news)."""
    session = "".join(c for c in str(event.get("session_id") or "") if c.isalnum() or c in "-_")
    if not session:
        return None
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(state) / "np" / "hooks" / f"{session[:80]}.json"


def _load(path: Path | None) -> dict[str, dict[str, str]]:
    state: dict[str, dict[str, str]] = {"ids": {}, "items": {}, "transcript": {}}
    try:
        found = json.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        found = {}
    for key in state:
        part = found.get(key) if isinstance(found, dict) else None
        if isinstance(part, dict):
            state[key] = {str(k): str(v) for k, v in part.items()}
    return state


def _private(path: Path) -> int:
    """``path`` opened for writing, private to you as the database is (0600, in folders
    0700): it holds the agent's checklist."""
    from store.paths import make_private_folders

    make_private_folders(str(path.parent))
    os.chmod(path.parent, 0o700)  # np's own folder, also one an older np made 0755
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)  # also a file an older np made with the umask's mode
    return fd


def _save(path: Path | None, state: dict[str, dict[str, str]]) -> None:
    if path is not None:
        with open(_private(path), "w", encoding="utf-8") as fh:
            fh.truncate()
            fh.write(json.dumps(state))


@contextmanager
def _one_at_a_time(path: Path | None) -> Iterator[None]:
    """Hooks of one host session may run at once (parallel tool calls: several TaskCreate
    in one turn): each holds the session's file from reading it to writing it back, so no
    hook's ids are lost to another's write."""
    if path is None:
        yield
        return
    import fcntl

    with open(_private(path.with_suffix(".lock")), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


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


def _goal(event: dict[str, Any]) -> str | None:
    """The objective of a goal the agent set with its host's own goal tool (Codex's
    ``create_goal``; a goal set with Codex's ``/goal`` command is not tested), or None."""
    given = event.get("tool_input")
    if event.get("tool_name") != "create_goal" or not isinstance(given, dict):
        return None
    objective = given.get("objective")
    return objective.strip() or None if isinstance(objective, str) else None


USER_GOAL = re.compile(
    r'<codex_internal_context source="user_goal">\s*User set the goal: (".*")\s*'
    r"</codex_internal_context>",
    re.S,
)


def _person_goal(host: str, event: dict[str, Any], state: dict[str, dict[str, str]]) -> str | None:
    """The newest goal the person set in the host since the bridge last read this
    session's transcript (the hook event's ``transcript_path``), or None. Neither host
    fires a hook for it; each writes it into the transcript: Codex 0.171.0 (``/goal``, or
    an app-server client's ``thread/goal/set``) as ``<codex_internal_context
    source="user_goal">User set the goal: "…"``, Claude Code 2.1.332 (``/goal``, also in
    ``claude -p``) as a ``local_command`` record ``{"command": "goal", "args": "…"}``. Only
    the lines added since the last read are read (the offset is kept in the session's
    state)."""
    where = event.get("transcript_path")
    if not isinstance(where, str) or not where:
        return None
    seen = state["transcript"]
    offset = int(seen.get("offset", "0")) if seen.get("path") == where else 0
    from store.outputs import read_regular

    try:
        if os.stat(where).st_size < offset:
            offset = 0  # a new file under the same name
    except (OSError, ValueError):
        return None
    data = read_regular(where, offset=offset)  # a FIFO or a device is never read
    if data is None:
        return None
    whole = data[: data.rfind(b"\n") + 1]  # a line still being written is read next time
    state["transcript"] = {"path": where, "offset": str(offset + len(whole))}
    found = None
    for line in whole.decode("utf-8", "replace").splitlines():
        if ("user_goal" if host == "codex" else '"goal"') not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        found = _goal_in(host, record) or found
    return found


def _goal_in(host: str, record: Any) -> str | None:
    """The goal a line of the host's transcript records the person setting, or None."""
    if host == "codex":
        quoted = [m.group(1) for t in _strings(record) for m in USER_GOAL.finditer(t)]
        return _unquote(quoted[-1]) if quoted else None
    if not isinstance(record, dict) or record.get("subtype") != "local_command":
        return None
    command = record.get("commandRun")
    if not isinstance(command, dict):
        return None
    args = command.get("args")
    if command.get("command") != "goal" or not isinstance(args, str):
        return None
    return args.strip() if args.strip() not in ("", "clear") else None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _unquote(quoted: str) -> str | None:
    """The objective inside Codex's quotes (escaped as a JSON string is)."""
    try:
        text = json.loads(quoted)
    except ValueError:
        text = quoted[1:-1]
    return text.strip() or None if isinstance(text, str) else None


def actor(host: str, event: dict[str, Any]) -> str:
    """The agent, as the MCP door records the same agent: Claude Code's session id (in the
    hook's event, and in the MCP server's environment) is part of its name; Codex hides
    its session from the MCP server, so none is added."""
    client = HOSTS[host].client
    if host == "claude":
        return with_session(client, str(event.get("session_id") or ""))
    return client


def run_bridge(db_path: str, directory: str | None, host: str | None = None) -> int:
    """Run by a host's hook: see the module's docstring. Always exits 0 (an unknown host:
    one line on stderr, and nothing done)."""
    if _known(host or "claude") is None:
        return EXIT_OK
    try:
        try:
            event = json.loads(sys.stdin.read() or "{}")
        except ValueError as exc:  # also bytes that are not UTF-8
            sys.stderr.write(
                f"np bridge: the hook's input is not a JSON event ({exc}); nothing was done. "
                "Run np bridge only from a host's hook (np hooks HOST shows the settings).\n"
            )
            return EXIT_OK
        event = event if isinstance(event, dict) else {}
        output = _bridge(db_path, directory, event, host or "claude")
    except Exception as exc:  # a hook never breaks the host
        why = (
            getattr(exc, "message", None) or f"np failed unexpectedly ({type(exc).__name__}: {exc})"
        )
        sys.stderr.write(f"np bridge: {why}; nothing was done.\n".replace(".;", ";"))
        return EXIT_OK
    if output:
        sys.stdout.write(json.dumps(output) + "\n")
    return EXIT_OK


def _bridge(
    db_path: str, directory: str | None, event: dict[str, Any], host: str
) -> dict[str, Any] | None:
    from store import Store
    from store.paths import missing_file

    from ..commands import Context

    name = str(event.get("hook_event_name") or "")
    if name == "SessionStart" and event.get("source") == "resume":
        # the resumed conversation holds the plan; what changed since comes with the
        # prompt that resumes it (UserPromptSubmit), once
        return None
    cwd = str(event.get("cwd") or directory or os.getcwd())
    items = _checklist(event) if name == "PostToolUse" else None
    task_tool = _task_tools(event) if name == "PostToolUse" else None
    if task_tool is not None and task_tool[0] == "create" and task_tool[2]:
        items = [(task_tool[2], "pending")]
    goal = _goal(event) if name == "PostToolUse" else None
    path = _state_file(event)
    with _one_at_a_time(path):
        state = _load(path)
        person = _person_goal(host, event, state) if host in ("codex", "claude") else None
        if items is None and goal is None and person is None and missing_file(db_path):
            _save(path, state)
            return None  # nothing planned yet, and a read never creates the database
        agent = actor(host, event)
        with Store(db_path) as store:
            ctx = Context(store, cwd, f"hook:{name} ({agent})", door="cli", actor=agent)
            bridge = _Bridge(ctx, path, state)
            return _handle(bridge, host, event, items, task_tool, (goal, person))


def _handle(
    bridge: _Bridge,
    host: str,
    event: dict[str, Any],
    items: list[tuple[str, str]] | None,
    task_tool: tuple[str, str, str | None, str | None] | None,
    goals: tuple[str | None, str | None],
) -> dict[str, Any] | None:
    """``goals``: the agent's (its goal tool), the person's (Codex's ``/goal``)."""
    from store import NoActiveSession

    name = str(event.get("hook_event_name") or "")
    goal, person = goals
    try:
        bridge.tasks()
    except NoActiveSession:
        if not items and goal is None and person is None:
            bridge.save()
            return None
        bridge.run("np.session.start", {})
    if person is not None:
        bridge.goal(person, "the person")
    if goal is not None:
        bridge.goal(goal)
    if items:
        bridge.sync(items, full_list=task_tool is None)
    if task_tool is not None:
        bridge.task_ids(task_tool)
    bridge.save()
    bridge.run("np.task.list", {})  # whatever else others changed: news too
    notice = "\n\n".join(dict.fromkeys(bridge.notices))
    if name == "SessionStart":
        plan = bridge.run("np.plan", {})
        text = "\n\n".join(str(p) for p in (notice, plan.get("text")) if p)
        return _context(name, "np's plan for this project:\n" + text)
    if not notice:
        return None
    if name == "Stop":
        if event.get("stop_hook_active") and HOSTS[host].says_held:
            return None  # held once already: let it stop
        return {"decision": "block", "reason": notice}
    return _context(name, notice)


class _Bridge:
    """One hook event's work on the command table, as the agent: the notices each answer
    carries are kept for the agent's next turn."""

    def __init__(self, ctx: Any, path: Path | None, state: dict[str, dict[str, str]]) -> None:
        self.ctx, self.path, self.state = ctx, path, state
        self.notices: list[str] = []

    def run(self, command: str, args: dict[str, Any], *, mark: bool = True) -> dict[str, Any]:
        from ..commands import execute

        result: dict[str, Any] = execute(command, self.ctx, args, mark=mark)
        if mark and result.get("notice"):
            self.notices.append(str(result["notice"]))
        return result

    def tasks(self) -> dict[str, dict[str, Any]]:
        """The plan's tasks by title (their news left unseen: a write shows it)."""
        listed = self.run("np.task.list", {}, mark=False)
        return {t["title"]: t for t in listed["tasks"]}

    def save(self) -> None:
        _save(self.path, self.state)

    def update(self, updates: list[dict[str, Any]]) -> set[str]:
        """Set these statuses; the ids refused because another actor changed them and the
        agent had not seen it are left as they are (the agent is told, and its next write
        of the same status is applied). Returns the refused ids."""
        from store import ChangedSinceSeen, NpError

        refused: set[str] = set()
        while updates:
            try:
                self.run("np.task.update", {"updates": updates})
                return refused
            except ChangedSinceSeen as exc:
                self.notices.append(str(exc.data.get("notice") or exc.message))
                ids = {str(i) for i in exc.data.get("ids") or []}
            except NpError as exc:  # e.g. another agent's live claim: the agent is told
                self.notices.append(f"np did not take this change: {exc.message}")
                ids = {str(exc.data["id"])} if exc.data.get("id") else set()
            ids = ids or {u["id"] for u in updates}
            refused |= ids
            updates = [u for u in updates if u["id"] not in ids]
        return refused

    def sync(self, items: list[tuple[str, str]], *, full_list: bool) -> None:
        """Add the items np does not have; set the statuses the agent changed. A checklist
        tool that sends the whole list (``full_list``) repeats items the agent did not
        touch: only a status that differs from the agent's last write is its change, so an
        operator's change to another item is never undone."""
        known = self.tasks()
        new = [title for title, _ in dict.fromkeys(items) if title not in known]
        if new:
            self.run("np.task.add", {"tasks": [{"title": t} for t in new]})
            known = self.tasks()
        last = self.state["items"] if full_list else {}
        wanted = dict(items)
        updates = [
            {"id": known[title]["id"], "status": status}
            for title, status in wanted.items()
            if title in known and known[title]["status"] != status and last.get(title) != status
        ]
        refused = self.update(updates)
        for title, status in wanted.items():
            if title in known and known[title]["id"] in refused:
                continue  # written again, it is applied
            if full_list:
                self.state["items"][title] = status

    def goal(self, objective: str, whose: str = "the agent") -> None:
        """The goal set in the host (by ``whose``) becomes the plan's goal (its first line
        the title), or changes it, saying so."""
        from store import GoalAlreadySet

        title = " ".join(objective.splitlines()[0].split())[:TITLE_MAX]
        description = f"{objective}\n\n(set by {whose} in its host)"
        try:
            self.run("np.goal.set", {"title": title, "description": description})
        except GoalAlreadySet:
            reason = f"{whose} set a new goal in its host"
            change = {"title": title, "description": description, "reason": reason}
            self.run("np.goal.change", change)

    def task_ids(self, tool: tuple[str, str, str | None, str | None]) -> None:
        """Remember which np task a created item is; carry an update's status over to it
        (``deleted`` cancels it, saying so)."""
        kind, host_id, title, status = tool
        ids = self.state["ids"]
        known = self.tasks()
        if kind == "create":
            if title in known:
                ids[host_id] = known[title]["id"]
            return
        np_id = ids.get(host_id)
        current = next((t for t in known.values() if t["id"] == np_id), None)
        if current is None or status is None:
            return
        update: dict[str, Any] = {"id": np_id, "status": status}
        if status == "deleted":
            update = {
                "id": np_id,
                "status": "cancelled",
                "reason": "removed from the agent's checklist",
            }
        elif status not in STATUSES:
            return
        if current["status"] != update["status"]:
            self.update([update])


def _context(event: str, text: str) -> dict[str, Any]:
    return {"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}}
