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
    ("no_active_session", "db"): (
        "Start a session with `np s` (it creates the database), or check --db and NP_DB "
        "if you meant another one."
    ),
    ("session_already_active", None): "Resume it with `np r`.",
    ("goal_already_set", None): 'To change it: np g u -t "<title>" -d "<description>" -r "<why>".',
    ("goal_not_set", None): 'Set it with np g s -t "<title>" -d "<description>".',
    ("task_not_found", None): "List the tasks with `np t`.",
    ("invalid_argument", "sid"): "List the sessions with `np ls --all`.",
    ("storage_error", "db"): "Point --db or NP_DB elsewhere if this one cannot be fixed.",
    ("storage_error", "schema"): "Its owner runs `np db migrate` on it.",
    ("storage_error", "db.migrate"): "",  # its sentence says who may migrate
    # the store's sentence already says to try again (P1: said once)
    ("storage_busy", None): "",
    # the export's own sentence says to choose another path with -o
    ("invalid_argument", "output"): "",
    ("no_active_session", "moved"): (
        'Tell the operator; they can run np mv --session {sid} -r "<why>" here.'
    ),
    ("no_active_session", "archived"): (
        "Start a new session with `np s` only if the operator asked for new work."
    ),
    ("no_active_session", "joinable"): (
        "To work on that plan from here, run `np join`; `np s` would start a separate one."
    ),
    ("session_already_active", "moved"): (
        'Tell the operator; they can run np mv --session {sid} -r "<why>" here.'
    ),
    ("invalid_argument", "NP_BUSY_TIMEOUT"): "",
    ("no_active_session", "session.move"): (
        'List the sessions with `np ls --all`, then run np mv --session SID -r "<why>".'
    ),
    ("changed_since_seen", None): (
        "Read what changed (below); if you still mean it, run the same command again."
    ),
    ("task_claimed", None): (
        'Take another with `np next`, or take this one over on purpose: --take -r "<why>".'
    ),
    ("dependency_refused", None): "List the tasks with `np t`.",
    ("invalid_argument", "key"): "",
    ("invalid_argument", "after"): "Check --after.",
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
    ("storage_busy", None): "",
    ("no_active_session", "moved"): (
        'Tell the operator; they can move it with np.session.move {{"sid": "{sid}", '
        '"reason": "<why>"}}.'
    ),
    ("no_active_session", "archived"): (
        "Start a new session with np.session.start only if the operator asked for new work."
    ),
    ("no_active_session", "joinable"): (
        "To work on that plan from here, send np.session.join {}; np.session.start would "
        "start a separate one."
    ),
    ("session_already_active", "moved"): (
        'Tell the operator; they can move it with np.session.move {{"sid": "{sid}", '
        '"reason": "<why>"}}.'
    ),
    ("no_active_session", "session.move"): (
        'List the sessions with np.session.list {"state": "all"}, then send '
        'np.session.move {"sid", "reason"}.'
    ),
    ("changed_since_seen", None): (
        "Read what changed (data.changes); if you still mean it, send the same request again."
    ),
    ("task_claimed", None): (
        "Take another with np.task.next {}, or take this one over on purpose: "
        '"take_over": true with a "reason".'
    ),
    ("dependency_refused", None): "List the tasks with np.task.list.",
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
    # the project's folder was renamed: only the operator can move the session here; a new
    # session (np_start) or np_resume would not help (B10: one voice, no contradiction)
    ("no_active_session", "moved"): (
        "Tell the operator the session must be moved to this folder, and wait: "
        "np_start and np_resume cannot help until it is."
    ),
    ("no_active_session", "archived"): "Call np_start only if the operator asked for new work.",
    ("no_active_session", "joinable"): (
        "Ask the operator whether this worktree should join that plan; np_start would start "
        "a separate one."
    ),
    ("changed_since_seen", None): (
        "Read what changed (below); if you still mean it, call the same tool again."
    ),
    ("task_claimed", None): (
        "Take another with np_next, or take this one over on purpose: take_over true with a reason."
    ),
    ("dependency_refused", None): "Call np_plan to see the task ids.",
    ("session_already_active", "moved"): (
        "Tell the operator the session must be moved to this folder, and wait: "
        "np_start and np_resume cannot help until it is."
    ),
}

HINTS: dict[Door, dict[Key, str]] = {"cli": CLI, "json": JSON, "mcp": MCP}

# What to type for a required field that is missing, per door.
CLI_GIVE = {
    "title": '-t "<title>"',
    "description": '-d "<description>"',
    "reason": '-r "<why>"',
    "id": "-i <id>",
    "status": "-s <status>",
    "sid": "--session SID",
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
    if data.get("cause") == "connection_lost":
        return None  # a transient loss: its sentence says what was written and what to do
    table = HINTS[door]
    moved = data.get("moved")
    if isinstance(moved, dict) and (kind, "moved") in table:
        # the project's folder was renamed: the next step is the operator's move
        return table[(kind, "moved")].format(sid=moved.get("sid", "SID"))
    if isinstance(data.get("archived"), dict) and (kind, "archived") in table:
        return table[(kind, "archived")]  # another actor archived it: new work is theirs to ask
    if isinstance(data.get("joinable"), dict) and (kind, "joinable") in table:
        return table[(kind, "joinable")]  # a linked worktree of a folder with a plan
    action = data.get("action")
    if isinstance(action, str) and (kind, action) in table:
        return table[(kind, action)]  # the next step of that action (np mv: name the session)
    # "" in a table: that error's own sentence already says what to do; add nothing
    found = table[(kind, field)] if (kind, field) in table else table.get((kind, None))
    if found is not None:
        return found or None
    if kind == "invalid_argument" and door == "cli" and field is not None:
        # JSON messages already name their field; the CLI names the flag that carries it.
        flag = CLI_FLAGS.get(field.split("[")[0])
        return f"Check {flag}." if flag else None
    return None


# A batch over the limit, in the CLI's terms: what one -t or -i pair adds, and the verb.
CLI_BATCH = {"tasks": ("tasks", "-t", "np t a"), "updates": ("updates", "-i", "np t u")}


def _cli_batch(data: Mapping[str, Any]) -> str | None:
    """The CLI's whole sentence for a batch over the limit (``data``: ``field`` tasks or
    updates, ``length``, ``limit``), naming its flag instead of the JSON field; else None."""
    found = CLI_BATCH.get(str(data.get("field")))
    length, limit = data.get("length"), data.get("limit")
    if found is None or not isinstance(length, int) or not isinstance(limit, int):
        return None
    noun, flag, verb = found
    return (
        f"{length:,} {noun} in one {verb}; at most {limit:,} {flag} per call: "
        "split them over several calls."
    )


def with_hint(message: str, door: Door, kind: str, data: Mapping[str, Any]) -> str:
    """``message`` followed by ``door``'s next step, if it has one. The CLI words a few
    errors whole in its own terms (a batch over the limit names ``-t``/``-i``)."""
    if door == "cli" and kind == "invalid_argument":
        own = _cli_batch(data)
        if own is not None:
            return own
    extra = hint(door, kind, data)
    if extra and door == "cli" and extra.startswith("Check ") and _names_flag(message, extra):
        return message  # the sentence (the CLI's own) already says what to do with that flag
    out = f"{message} {extra}" if extra else message
    return out + shown_changes(kind, data) if door != "json" else out


def shown_changes(kind: str, data: Mapping[str, Any]) -> str:
    """What a refused blind write (``changed_since_seen``) shows under its sentence: the
    changes exactly as a notice shows them ("\n" + notice), else "". JSON-RPC messages
    stay one line: there the changes are in ``data.changes`` and ``data.notice``."""
    notice = data.get("notice")
    if kind == "changed_since_seen" and isinstance(notice, str) and notice:
        return "\n" + notice
    return ""


def _names_flag(message: str, check: str) -> bool:
    """Whether ``message`` already names a flag of ``check`` ("Check -o FILE.")."""
    words = message.replace(",", " ").replace(";", " ").replace(".", " ").split()
    flags = check.removeprefix("Check ").rstrip(".").replace("/", " ").split()
    return any(f.startswith("-") and f in words for f in flags)
