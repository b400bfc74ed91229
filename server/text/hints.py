"""The next step each door adds to the store's neutral error sentences: one table per door.

Store errors carry ``kind``, ``code``, ``data`` (``data["field"]`` names the JSON field at
fault: ``"reason"``, ``"title"``, ``"id"``, ``"dir"``, ``"db"`` …) and a neutral sentence that
names no CLI flag and no command. A door appends its hint, looked up by ``(kind, field)`` and
then by ``(kind, None)``:

* ``cli``: flags and ``np`` verbs (``-r "<why>"``, ``np s``);
* ``json`` (``np serve``): JSON fields and ``np.*`` commands, never a shell flag;
* ``mcp`` (``np mcp``): the ``np_*`` tool names and their arguments.

Why one module with a table per door rather than a hints module inside each door: the
``guide`` texts of results (SPEC §5) are chosen by the command table, below the doors, so the
per-door wording of guides has to live here in ``server.text``; keeping the hints beside them
puts all of a door's words for "what next" side by side, lets one test walk every door's
table, and a new door (MCP) adds a table instead of a package-private copy of the kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .guide import Door

Key = tuple[str, str | None]

# The CLI spelling of each JSON field (for invalid_argument hints).
CLI_FLAGS = {
    "title": "-t/--title",
    "description": "-d/--description",
    "reason": "-r/--reason",
    "id": "-i/--id",
    "status": "-s/--status",
    "limit": "-n/--limit",
    "format": "--format",
    "dir": "-C DIR",
    "sid": "--session SID",
    "output": "-o FILE",
    "db": "--db PATH (or NP_DB)",
    "log_file": "--log-file FILE",
}

CLI: dict[Key, str] = {
    ("reason_required", "reason"): 'Give one with -r "<why>".',
    ("no_active_session", "dir"): "Start one with `np s`.",
    ("no_active_session", "sid"): "Start a new session with `np s`.",
    ("no_active_session", None): "Start one with `np s`.",
    ("session_already_active", None): "Resume it with `np r`.",
    ("goal_already_set", None): 'To change it: np g u -t "<title>" -d "<description>" -r "<why>".',
    ("goal_not_set", None): 'Set it with np g s -t "<title>" -d "<description>".',
    ("task_not_found", None): "List the tasks with `np t`.",
    ("invalid_argument", "sid"): "List the sessions with `np ls --all`.",
    ("storage_error", "db"): "Point --db or NP_DB elsewhere if this one cannot be fixed.",
    ("storage_error", "schema"): "Its owner upgrades it with `np db migrate`.",
    ("storage_busy", None): "Run the command again.",
    ("no_active_session", "moved"): (
        'Tell the operator; they can run np mv --session {sid} -r "<why>" here.'
    ),
    ("session_already_active", "moved"): (
        'Tell the operator; they can run np mv --session {sid} -r "<why>" here.'
    ),
    ("invalid_argument", "NP_BUSY_TIMEOUT"): "",
    ("no_active_session", "session.move"): (
        'List the sessions with `np ls --all`, then run np mv --session SID -r "<why>".'
    ),
}

JSON: dict[Key, str] = {
    ("reason_required", "reason"): 'Give it in the "reason" field.',
    ("no_active_session", "dir"): "Start one with np.session.start.",
    ("no_active_session", "sid"): "Start a new session with np.session.start.",
    ("no_active_session", None): "Start one with np.session.start.",
    ("session_already_active", None): "Resume it with np.session.resume.",
    ("goal_already_set", None): (
        'To change it: np.goal.change {"title"?, "description"?, "reason"}.'
    ),
    ("goal_not_set", None): 'Set it with np.goal.set {"title", "description"}.',
    ("task_not_found", None): "List the tasks with np.task.list.",
    ("invalid_argument", "sid"): 'List the sessions with np.session.list {"state": "all"}.',
    ("storage_error", "db"): "The server's operator can point it at another database.",
    ("storage_error", "schema"): "The database's operator has to migrate it.",
    ("storage_busy", None): "Send the request again.",
    ("no_active_session", "moved"): (
        'Tell the operator; they can move it with np.session.move {{"sid": "{sid}", '
        '"reason": "<why>"}}.'
    ),
    ("session_already_active", "moved"): (
        'Tell the operator; they can move it with np.session.move {{"sid": "{sid}", '
        '"reason": "<why>"}}.'
    ),
    ("no_active_session", "session.move"): (
        'List the sessions with np.session.list {"state": "all"}, then send '
        'np.session.move {"sid", "reason"}.'
    ),
}

MCP: dict[Key, str] = {
    ("reason_required", "reason"): 'Pass "reason", saying why.',
    ("no_active_session", "dir"): 'Start one with np_start, or pass the project\'s "dir".',
    ("no_active_session", "sid"): "Start a new session with np_start.",
    ("no_active_session", None): "Start one with np_start.",
    ("session_already_active", None): "Call np_resume.",
    ("goal_already_set", None): "To change it: np_goal with title, description and reason.",
    ("goal_not_set", None): "Set it with np_goal(title, description).",
    ("task_not_found", None): "Call np_plan to see the task ids.",
    ("storage_error", "db"): "Ask the operator to check np's database.",
}

HINTS: dict[Door, dict[Key, str]] = {"cli": CLI, "json": JSON, "mcp": MCP}

# What to type for a required field that is missing, per door.
CLI_GIVE = {
    "title": '-t "<title>"',
    "description": '-d "<description>"',
    "reason": '-r "<why>"',
    "id": "-i <id>",
    "status": "-s <status>",
}


def hint(door: Door, kind: str, data: Mapping[str, Any]) -> str | None:
    """The next step ``door`` adds to an error of ``kind`` with ``data``, or None."""
    field = data.get("field")
    field = field if isinstance(field, str) else None
    if kind == "invalid_argument" and data.get("required") and field is not None:
        if door == "cli":
            give = CLI_GIVE.get(field)
            return f"Give it with {give}." if give else None
        return f'Give it in the "{field}" field.'
    table = HINTS[door]
    moved = data.get("moved")
    if isinstance(moved, dict) and (kind, "moved") in table:
        # the project's folder was renamed: the next step is the operator's move
        return table[(kind, "moved")].format(sid=moved.get("sid", "SID"))
    action = data.get("action")
    if isinstance(action, str) and (kind, action) in table:
        return table[(kind, action)]  # the next step of that action (np mv: name the session)
    found = table.get((kind, field)) or table.get((kind, None))
    if found is not None:
        return found or None
    if kind == "invalid_argument" and door == "cli" and field is not None:
        # JSON messages already name their field; the CLI names the flag that carries it.
        flag = CLI_FLAGS.get(field.split("[")[0])
        return f"Check {flag}." if flag else None
    return None


def with_hint(message: str, door: Door, kind: str, data: Mapping[str, Any]) -> str:
    """``message`` followed by ``door``'s next step, if it has one."""
    extra = hint(door, kind, data)
    return f"{message} {extra}" if extra else message
