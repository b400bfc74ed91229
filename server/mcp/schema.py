"""What ``np mcp`` tells a host before any tool runs: the eight tools (``tools/list``), the
server instructions and the prompt's description.

Standard library only, and nothing of the store: :mod:`server.mcp.front` answers
``initialize`` and ``tools/list`` from here before the MCP SDK (or np's store) is imported,
so a host that gives a server a second or less (Codex does not wait at all, Cline allows
3 s) finds np's tools in its first model request.

``TOOLS`` is the exact ``tools/list`` entry of each tool (name, description, input schema,
annotations), written by hand: pydantic-generated schemas cost half again as many bytes of
the model's context, and a golden test holds these byte for byte.

* Every tool is marked ``_meta["anthropic/alwaysLoad"]``, so Claude Code lists all eight in
  the model's tools instead of behind its tool search, whose keyword search returns 5 (the
  model found 5 of 8 for "np", "plan" or "todo" and none for "task"). Every description
  starts ``np plan/todo:`` and names tasks, so a keyword search (Qwen Code's tool_search,
  which has no such mark) for "np" or "plan" matches np's tools.
* The status enums list every spelling np accepts (``store.types.STATUS_ALIASES`` too), so
  a host that checks arguments against the schema (Gemini CLI, Qwen Code) lets through what
  np would take.
* :data:`HOST_FIELDS` are arguments hosts add to every tool for their own bookkeeping
  (Gemini CLI's ``wait_for_previous``): np ignores them; any other unknown field is still
  refused, so a typo in np's own fields is never silently dropped.
"""

from __future__ import annotations

# Only for the type checker: importing typing costs start-up time before the first answer.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

JSON = dict[str, "Any"]

STATUSES = ["pending", "in_progress", "completed", "failed", "cancelled"]
# The spellings np also accepts (store.types.STATUS_ALIASES; a test holds them equal).
STATUS_SYNONYMS = ["done", "complete", "canceled"]
_DIR: JSON = {"type": "string", "description": "Absolute project path"}
_STATUS: JSON = {"enum": STATUSES + STATUS_SYNONYMS}
# Annotations are hints for hosts' permission prompts. The spec's defaults for a write are
# pessimistic (destructive), so writes say they are not: nothing is deleted, every change
# is logged. ``openWorldHint`` is left out: it would cost 154 bytes of the budget.
_READ: JSON = {"readOnlyHint": True}
_WRITE: JSON = {"destructiveHint": False}
_TEXT: JSON = {"type": "string"}
# An idempotency key, on the tools whose retry would otherwise write twice (np_add adds
# again, np_next claims another task); the others' retries are refused or change nothing.
_KEY: JSON = {"key": _TEXT}
_LEAD = "np plan/todo: "  # what a keyword tool search matches (see the module's docstring)
# Claude Code keeps a server's tools behind its tool search (whose keyword search returns 5
# results unless the model asks for more) unless the server marks them to be always loaded:
# np's eight tools are few enough to be in the model's tool list from the start. Hosts show
# the model no ``_meta``: it costs no context.
_ALWAYS_LOAD: JSON = {"anthropic/alwaysLoad": True}


def _tool(name: str, description: str, props: JSON, required: list[str], notes: JSON) -> JSON:
    schema: JSON = {"type": "object", "properties": {**props, "dir": _DIR}}
    if required:
        schema["required"] = required
    return {
        "name": name,
        "description": _LEAD + description,
        "inputSchema": schema,
        "annotations": notes,
        "_meta": _ALWAYS_LOAD,
    }


TOOLS: list[JSON] = [
    _tool("np_start", "start a planning session for this project's tasks.", {}, [], _WRITE),
    _tool("np_resume", "after a context reset, the plan and the next task.", {}, [], _READ),
    _tool(
        "np_plan",
        "the plan, one task in full (id), or the tasks with given statuses.",
        {"id": _TEXT, "status": {"type": "array", "items": _STATUS}},
        [],
        _READ,
    ),
    _tool(
        "np_goal",
        "set the goal of the tasks; changing it needs a reason and the operator's request.",
        {
            "title": {"type": "string"},
            "description": {"type": "string"},
            "reason": {"type": "string"},
        },
        ["title", "description"],
        _WRITE,
    ),
    _tool(
        "np_add",
        "add tasks in one call.",
        {
            "tasks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "title": _TEXT,
                        "description": _TEXT,
                        "after": {"type": "array", "items": _TEXT},
                    },
                    "required": ["title"],
                },
            },
            **_KEY,
        },
        ["tasks"],
        _WRITE,
    ),
    _tool(
        "np_update",
        "set task statuses in one call; failed/cancelled need a reason.",
        {
            "updates": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "status": _STATUS,
                        "reason": {"type": "string"},
                        "take_over": {"type": "boolean"},
                    },
                    "required": ["id", "status"],
                },
            },
            "reason": {"type": "string"},
            **_KEY,
        },
        ["updates"],
        {"destructiveHint": False, "idempotentHint": True},
    ),
    _tool(
        "np_edit",
        "reword a task (needs a reason), or ask the operator a question on it and go on.",
        {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "reason": {"type": "string"},
            "question": _TEXT,
            "choices": {"type": "array", "items": _TEXT},
            "withdraw": {"type": "boolean"},
        },
        ["id"],
        _WRITE,
    ),
    _tool("np_next", "claim the next ready task (or say why none is).", {**_KEY}, [], _WRITE),
]
TOOL_NAMES = [t["name"] for t in TOOLS]
# Tools that only read: they run on a thread and connection of their own, so a write waiting
# for another process's lock never holds them up (SQLite's WAL readers take no lock).
READ_ONLY = frozenset(t["name"] for t in TOOLS if t["annotations"].get("readOnlyHint"))
FIELDS = {t["name"]: frozenset(t["inputSchema"]["properties"]) for t in TOOLS}

# Arguments hosts add to every tool for themselves, never meant for np: ignored when given.
# Gemini CLI adds ``wait_for_previous`` (boolean) to each tool's schema and its system prompt
# tells the model to set it for a call that depends on an earlier one in the same turn.
HOST_FIELDS = frozenset({"wait_for_previous"})

INSTRUCTIONS = (
    "np plans your work in this project: one goal, tasks with statuses, every change logged; "
    "use it instead of built-in todo tools unless the operator says otherwise. "
    "Start with np_start (or np_resume after a context reset); each result names the next step."
)
PROMPT_NAME = "np"
PROMPT_DESCRIPTION = "How to plan your work with np"
