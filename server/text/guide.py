"""Guidance for the model: each output names only the next step (progressive disclosure).

Human-facing commands (archive, list, log, export, monitor, serve) are never mentioned here.
"""

from __future__ import annotations

START = """\
Session started. Next: turn the request into ONE goal — a short title and a thorough
description. Record in the description the issue or ticket reference, the relevant file
paths, symbols and constraints, so a fresh context can resume the work from the plan alone.
Set it with:
  np g s -t "<title>" -d "<description>\""""

GOAL_SET = """\
Goal set. Next: read the files and references named in the goal, think about how to reach
it, then add the tasks — repeat -t/-d to add several in one call (a -d belongs to the -t
before it):
  np t a -t "<title>" -d "<description>" -t "<title>" -d "<description>\""""

TASKS_ADDED = """\
Next: work through the tasks. Mark each one as you go; several -i/-s pairs fit in one call:
  np t u -i <id> -s in_progress
  np t u -i <id> -s completed
Marking a task failed or cancelled needs a reason: np t u -i <id> -s failed -r "<why>".
Found more work? Add it with np t a -t "<title>" -d "<description>"."""

RESUME = """\
You are resuming this session. The goal and tasks above are the plan; the goal's description
holds the references to read first. Carry on from the first task that is not finished.
  np t u -i <id> -s in_progress|completed     mark progress (several -i/-s pairs at once)
  np t u -i <id> -s failed|cancelled -r "<why>"   a reason is required
  np t a -t "<title>" -d "<description>"      add tasks (repeat -t/-d)
  np t e -i <id> [-t "<title>"] [-d "<description>"] -r "<why>"   reword a task
  np p                                         print the plan again
Change the goal only when the operator asks: np g u -t "<title>" -d "<description>" -r "<why>"."""

RESUME_NO_GOAL = """\
You are resuming this session, but no goal is set yet. Turn the request into ONE goal with a
thorough description (issue reference, file paths, constraints) and set it with:
  np g s -t "<title>" -d "<description>\""""

RESUME_NO_TASKS = """\
You are resuming this session; the goal is set but there are no tasks yet. Read the
references in the goal, then add tasks (repeat -t/-d for several):
  np t a -t "<title>" -d "<description>\""""

PROMPT = """\
## nasin pali (the way of work)

Instead of any built-in todo or planning tools, plan your work with `np`, unless the operator
says otherwise. If `np` is not on your PATH, ask the operator to install it. Start every piece
of work with `np s` (or `np r` to resume an existing session after a context reset); each
command's output tells you the next step. Never archive a session yourself.
"""
