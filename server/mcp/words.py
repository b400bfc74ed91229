"""What the MCP door says, in its own terms: tool names and JSON fields, never shell flags.

Server instructions (two sentences, which hosts put before the tool list), the ``np``
prompt, the next-step guidance after each result and the next step each error adds.
"""

from __future__ import annotations

import re

from store import NpError

from ..guide import GOAL_SET, RESUME, RESUME_NO_GOAL, RESUME_NO_TASKS, START, TASKS_ADDED

INSTRUCTIONS = (
    "np plans your work in this project: one goal, tasks with statuses, every change logged; "
    "use it instead of built-in todo tools unless the operator says otherwise. "
    "Start with np_start (or np_resume after a context reset); each result names the next step."
)

PROMPT_DESCRIPTION = "How to plan your work with np"
PROMPT = """\
## nasin pali (the way of work)

Instead of any built-in todo or planning tools, plan your work with the np tools, unless the
operator says otherwise. Start every piece of work with np_start (or np_resume to resume an
existing session after a context reset); each result tells you the next step. Pass "dir" (the
project's absolute path) when the np server does not run in the project. Never try to archive
a session yourself; that is the operator's.
"""

NO_DIR = (
    'This np server runs in / or your home directory, not in a project; pass "dir" with '
    "the project's absolute path."
)
RELATIVE_DIR = "The field 'dir' must be an absolute path here; pass the project's full path."

_START = """\
Session started. Next: turn the request into ONE goal — a short title and a thorough
description. Record in the description the issue or ticket reference, the relevant file
paths, symbols and constraints, so a fresh context can resume the work from the plan alone.
Set it with np_goal(title, description)."""

_GOAL_SET = """\
Goal set. Next: read the files and references named in the goal, think about how to reach
it, then add the tasks, several in one call: np_add(tasks=[{title, description}, …])."""

_TASKS_ADDED = """\
Next: work through the tasks. Mark each one as you go; several updates fit in one call:
np_update(updates=[{id, status: "in_progress"}]), later "completed".
Marking a task failed or cancelled needs a reason. Found more work? Add it with np_add."""

_RESUME = """\
You are resuming this session. The goal and tasks above are the plan; the goal's description
holds the references to read first. Carry on from the first task that is not finished.
  np_update   mark progress: in_progress, completed; failed/cancelled need a reason
  np_add      add tasks (several in one call)
  np_edit     reword a task, with a reason
  np_plan     show the plan again
Change the goal only when the operator asks: np_goal with a reason."""

_RESUME_NO_GOAL = """\
You are resuming this session, but no goal is set yet. Turn the request into ONE goal with a
thorough description (issue reference, file paths, constraints) and set it with
np_goal(title, description)."""

_RESUME_NO_TASKS = """\
You are resuming this session; the goal is set but there are no tasks yet. Read the
references in the goal, then add tasks, several in one call:
np_add(tasks=[{title, description}, …])."""

_GUIDES = {
    START: _START,
    GOAL_SET: _GOAL_SET,
    TASKS_ADDED: _TASKS_ADDED,
    RESUME: _RESUME,
    RESUME_NO_GOAL: _RESUME_NO_GOAL,
    RESUME_NO_TASKS: _RESUME_NO_TASKS,
}


def guide(text: str) -> str:
    """The MCP wording of a guide the command table returned."""
    return _GUIDES.get(text, text)


_HINTS = {
    "no_active_session": "Start one with np_start.",
    "session_already_active": "Call np_resume, or ask the operator to archive it.",
    "goal_already_set": (
        "Change it only when the operator asks: call np_goal again with a reason."
    ),
    "goal_not_set": "Set it with np_goal(title, description).",
    "task_not_found": "Call np_plan to see the task ids.",
    "reason_required": 'Pass "reason".',
    "storage_busy": "Try again in a moment.",
}

# Until every store sentence is neutral, drop the tail that names CLI syntax.
_CLI_TAIL = re.compile(
    r"(;|,)? *(give one|start one|resume it|set one|change it|with|or)?[^;.]*`.*$"
)


def error_message(exc: NpError) -> str:
    """The error's sentence, followed by this door's next step."""
    message = exc.message
    if "`" in message or "-r/--reason" in message:
        message = _CLI_TAIL.sub("", message.split("; give one with")[0]).rstrip(" ;,.") + "."
    hint = _HINTS.get(exc.kind)
    return f"{message} {hint}" if hint and hint not in message else message
