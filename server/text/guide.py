"""Guidance for the model: each output names only the next step (progressive disclosure).

Human-facing commands (archive, list, log, export, monitor, serve) are never mentioned here.
Each door has its own wording (``GUIDES[door][name]``): the CLI's guides name ``np`` verbs and
flags, the JSON ones (``np serve``) name ``np.*`` commands and their fields and never a shell
flag, the MCP ones (``np mcp``) name the ``np_*`` tools and their arguments.
"""

from __future__ import annotations

from typing import Literal

Door = Literal["cli", "json", "mcp"]
Name = Literal[
    "start", "goal_set", "tasks_added", "resume", "resume_no_goal", "resume_no_tasks", "next"
]

START = """\
Session started. Next: turn the request into ONE goal — a short title and a thorough
description: the issue or ticket reference, file paths, symbols and constraints, so a
fresh context can resume the work from the plan alone. Set it with:
  np g s -t "<title>" -d "<description>\""""

GOAL_SET = """\
Goal set. Next: read the files and references in the goal, think how to reach it,
then add the tasks (repeat -t/-d for several; a -d belongs to the -t before it):
  np t a -t "<title>" -d "<description>" -t …"""

TASKS_ADDED = """\
Next: work through the tasks, marking each as you go (several -i/-s pairs per call):
  np t u -i <id> -s in_progress   then -s completed
Failed/cancelled need a reason: -r "<why>". More work? np t a -t … -d …"""

RESUME = """\
You are resuming this session: the plan above is the state of the work. Read the references
in the goal first, then carry on from the first task that is not finished.
  np t u -i <id> -s in_progress|completed   (several -i/-s at once)
  np t u -i <id> -s failed|cancelled -r "<why>"
  np t a -t "<title>" -d "<description>"    add tasks (repeat -t/-d)
  np t e -i <id> [-t "<title>"] [-d "<description>"] -r "<why>"
Change the goal only when the operator asks: np g u [-t …] [-d …] -r "<why>"."""

RESUME_NO_GOAL = """\
You are resuming this session, but no goal is set yet. Turn the request into ONE goal with a
thorough description (issue reference, file paths, constraints) and set it with:
  np g s -t "<title>" -d "<description>\""""

RESUME_NO_TASKS = """\
You are resuming this session; the goal is set but there are no tasks yet. Read the
references in the goal, then add tasks (repeat -t/-d for several):
  np t a -t "<title>" -d "<description>\""""

JSON_START = """\
Session started. Next: turn the request into ONE goal — a short title and a thorough
description. Record in the description the issue or ticket reference, the relevant file
paths, symbols and constraints, so a fresh context can resume the work from the plan alone.
Set it with np.goal.set {"title": "<title>", "description": "<description>"}."""

JSON_GOAL_SET = """\
Goal set. Next: read the files and references named in the goal, think about how to reach
it, then add the tasks — several fit in one call:
np.task.add {"tasks": [{"title": "<title>", "description": "<description>"}, …]}."""

JSON_TASKS_ADDED = """\
Next: work through the tasks. Mark each one as you go; several updates fit in one call:
np.task.update {"updates": [{"id": "<id>", "status": "in_progress"}]}, then "completed".
Marking a task failed or cancelled needs a "reason" (per update or once for all).
Found more work? Add it with np.task.add {"tasks": [{"title": …, "description": …}]}.
Need the operator? np.task.ask {"id": "<id>", "question": "…", "choices": […]}; keep working."""

JSON_RESUME = """\
You are resuming this session. The goal and tasks above are the plan; the goal's description
holds the references to read first. Carry on from the first task that is not finished.
  np.task.update {"updates": [{"id", "status"}]}   mark progress (several at once)
  failed/cancelled need a "reason"                 per update, or once for all
  np.task.add {"tasks": [{"title", "description"}]}   add tasks
  np.task.edit {"id", "title"?, "description"?, "reason"}   reword a task
  np.plan {}                                       the plan again
Change the goal only when the operator asks: np.goal.change {"title"?, "description"?, "reason"}."""

JSON_RESUME_NO_GOAL = """\
You are resuming this session, but no goal is set yet. Turn the request into ONE goal with a
thorough description (issue reference, file paths, constraints) and set it with
np.goal.set {"title": "<title>", "description": "<description>"}."""

JSON_RESUME_NO_TASKS = """\
You are resuming this session; the goal is set but there are no tasks yet. Read the
references in the goal, then add tasks (several in one call) with
np.task.add {"tasks": [{"title": "<title>", "description": "<description>"}]}."""

MCP_START = """\
Session started. Next: turn the request into ONE goal — a short title and a thorough
description. Record in the description the issue or ticket reference, the relevant file
paths, symbols and constraints, so a fresh context can resume the work from the plan alone.
Set it with np_goal(title, description)."""

MCP_GOAL_SET = """\
Goal set. Next: read the files and references named in the goal, think about how to reach
it, then add the tasks, several in one call: np_add(tasks=[{title, description}, …])."""

MCP_TASKS_ADDED = """\
Next: work through the tasks. Mark each one as you go; several updates fit in one call:
np_update(updates=[{id, status: "in_progress"}]), later "completed".
Marking a task failed or cancelled needs a reason. Found more work? Add it with np_add.
Need the operator? np_edit(id, question, choices) and keep working."""

MCP_RESUME = """\
You are resuming this session. The goal and tasks above are the plan; the goal's description
holds the references to read first. Carry on from the first task that is not finished.
  np_update   mark progress: in_progress, completed; failed/cancelled need a reason
  np_add      add tasks (several in one call)
  np_edit     reword a task, with a reason
  np_plan     show the plan again
Change the goal only when the operator asks: np_goal with a reason."""

MCP_RESUME_NO_GOAL = """\
You are resuming this session, but no goal is set yet. Turn the request into ONE goal with a
thorough description (issue reference, file paths, constraints) and set it with
np_goal(title, description)."""

MCP_RESUME_NO_TASKS = """\
You are resuming this session; the goal is set but there are no tasks yet. Read the
references in the goal, then add tasks, several in one call:
np_add(tasks=[{title, description}, …])."""

NEXT = """\
Yours now (your writes renew the claim). Done: np t u -i {id} -s completed, then np next.
Stuck: -s failed -r "<why>\""""

JSON_NEXT = """\
Yours now (your writes renew the claim). Done: np.task.update {{"updates": [{{"id": "{id}",
"status": "completed"}}]}}, then np.task.next {{}}. Stuck: "status": "failed" with a "reason"."""

MCP_NEXT = """\
Yours now (your writes renew the claim). Done: np_update(updates=[{{id: "{id}", status:
"completed"}}]), then np_next(). Stuck: status "failed" with a reason."""

_CLI: dict[Name, str] = {
    "start": START,
    "goal_set": GOAL_SET,
    "tasks_added": TASKS_ADDED,
    "resume": RESUME,
    "resume_no_goal": RESUME_NO_GOAL,
    "resume_no_tasks": RESUME_NO_TASKS,
    "next": NEXT,
}
_JSON: dict[Name, str] = {
    "start": JSON_START,
    "goal_set": JSON_GOAL_SET,
    "tasks_added": JSON_TASKS_ADDED,
    "resume": JSON_RESUME,
    "resume_no_goal": JSON_RESUME_NO_GOAL,
    "resume_no_tasks": JSON_RESUME_NO_TASKS,
    "next": JSON_NEXT,
}
_MCP: dict[Name, str] = {
    "start": MCP_START,
    "goal_set": MCP_GOAL_SET,
    "tasks_added": MCP_TASKS_ADDED,
    "resume": MCP_RESUME,
    "resume_no_goal": MCP_RESUME_NO_GOAL,
    "resume_no_tasks": MCP_RESUME_NO_TASKS,
    "next": MCP_NEXT,
}
GUIDES: dict[Door, dict[Name, str]] = {"cli": _CLI, "json": _JSON, "mcp": _MCP}


# How each door names the command that shows what a bounded output left out.
Pointer = Literal["task", "status"]
_POINTERS: dict[Door, dict[Pointer, str]] = {
    "cli": {"task": "np t -i {id}", "status": "np t -s {status}"},
    "json": {
        "task": 'np.task.list {{"ids": ["{id}"]}}',
        "status": 'np.task.list {{"status": "{status}"}}',
    },
}
_POINTERS["mcp"] = {"task": 'np_plan(id="{id}")', "status": 'np_plan(status=["{status}"])'}


def pointer(name: Pointer, door: Door, **values: str) -> str:
    """The command (in ``door``'s terms) that shows what a bounded output left out."""
    return _POINTERS[door][name].format(**values)


def guide(name: Name, door: Door) -> str:
    """The next-step text ``name`` worded for ``door`` (a result's ``guide``, SPEC §5)."""
    return GUIDES[door][name]


PROMPT = """\
## nasin pali (the way of work)

Instead of any built-in todo or planning tools, plan your work with `np`, unless the operator
says otherwise. If `np` is not on your PATH, ask the operator to install it. Start every piece
of work with `np s` (or `np r` to resume an existing session after a context reset); each
command's output tells you the next step. Never archive a session yourself. To ask the
operator something, ask on the task and keep working (`np t q -i <id> -q "<question>"
[-o <choice> …]`): the answer starts a later output.
"""
