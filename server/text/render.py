"""Text for agents and people: the compact plan (SPEC §4), task lists, event lines, export.

Token-frugal by design: one glyph per status, short ids, descriptions only where they help
the next step, and a legend that names failed/cancelled only when some task has them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from store import GLYPHS, Changes, Event, EventType, Plan, Status, Task
from store.text import counted, one_line
from store.text import shorten as _cut
from store.types import PREVIEW_LIMIT, Ask, preview_ids

from .guide import Door, pointer

if TYPE_CHECKING:
    from store.receipts import Receipt

OPEN = (Status.PENDING, Status.IN_PROGRESS)
LEGEND_ALWAYS = (Status.PENDING, Status.IN_PROGRESS, Status.COMPLETED)
LEGEND_IF_PRESENT = (Status.FAILED, Status.CANCELLED)


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


# What a plan or task list shows of a description: its first lines, then a pointer to the
# command that shows it whole (SPEC §8: output stays small; ``--json`` is always complete).
DESCRIPTION_LINES = 3
DESCRIPTION_CHARS = 240
REASON_CHARS = 160


def shorten(text: str, limit: int) -> str:
    """``text`` on one line (runs of white space made one space), cut to ``limit``
    characters with an ellipsis, never inside what a reader sees as one character."""
    return _cut(" ".join(one_line(text).split()), limit)


def head(text: str, lines: int = DESCRIPTION_LINES, chars: int = DESCRIPTION_CHARS) -> str | None:
    """The first ``lines`` lines of ``text`` within ``chars`` characters, or None when
    ``text`` fits whole (then show it all)."""
    stripped = text.strip("\n")
    kept = stripped.splitlines()[:lines]
    out = "\n".join(kept)
    if len(out) > chars:
        out = _cut(out, chars)
    return None if out == stripped else out


def task_line(
    task: Task, *, description: bool, whole: bool = True, door: Door = "cli", reason: bool = True
) -> str:
    """``<glyph> <id> <title>``; under it the description (``whole``, or its first lines
    and a pointer to the command that shows it all, worded for ``door``) and, for a failed
    or cancelled task, its reason (shortened)."""
    line = f"{task.status.glyph} {task.id} {one_line(task.title)}{waits_and_holder(task)}"
    if description and task.description.strip():
        short = None if whole else head(task.description)
        if short is None:
            line += "\n" + indent(task.description)
        else:
            more = pointer("task", door, id=task.id)
            line += "\n" + indent(short) + "\n" + indent(f"… (all of it: {more})")
    if reason and task.reason and task.status in (Status.FAILED, Status.CANCELLED):
        line += "\n" + indent(f"reason: {shorten(task.reason, REASON_CHARS)}")
    if task.ask is not None:
        line += "\n" + indent(ask_line(task.ask))
    return line


def waits_and_holder(task: Task) -> str:
    """Compact marks after an open task's title: what it waits for, who holds it."""
    marks = []
    if task.after and task.status in OPEN:
        marks.append("after " + ",".join(task.after))
    if task.claimed_by and task.status is Status.IN_PROGRESS:
        until = (task.claim_expires_at or "")[11:16]
        marks.append(f"{shorten(task.claimed_by, 40)} until {until}Z" if until else task.claimed_by)
    return f"  [{'; '.join(marks)}]" if marks else ""


def _legend(present: Iterable[Status]) -> str:
    found = set(present)
    parts = [f"{GLYPHS[s]} {s.label}" for s in LEGEND_ALWAYS]
    parts += [f"{GLYPHS[s]} {s.label}" for s in LEGEND_IF_PRESENT if s in found]
    return "Legend: " + " ".join(parts)


def legend(tasks: Iterable[Task]) -> str:
    return _legend(t.status for t in tasks)


def task_lines(
    tasks: Sequence[Task],
    *,
    all_descriptions: bool = False,
    whole: bool = False,
    door: Door = "cli",
) -> list[str]:
    """One line per task; descriptions of open (pending, in progress) tasks only, unless
    ``all_descriptions``; each cut to its first lines unless ``whole``."""
    return [
        task_line(t, description=all_descriptions or t.status in OPEN, whole=whole, door=door)
        for t in tasks
    ]


def plan_text(
    plan: Plan,
    *,
    limit: int = PREVIEW_LIMIT,
    door: Door = "cli",
    brief: bool = False,
    legend: bool | None = None,
) -> str:
    """The compact plan of SPEC §4. A long plan shows the tasks ``preview_ids`` picks (a
    preview read by the store already holds just those) and counts the rest, with the
    command that lists them (worded for ``door``): nothing is silently left out.

    Descriptions of open tasks show their first lines; failed and cancelled tasks show
    their reason. ``brief`` (what a write prints: the agent has read the plan) shows the
    goal's title alone and, unless ``legend``, no legend. A plan without tasks has none."""
    shown: Sequence[Task] = plan.tasks
    if plan.complete:
        picked = preview_ids([(t.id, t.status) for t in plan.tasks], limit)
        if picked is not None:
            shown = [t for t in plan.tasks if t.id in picked]
    counts = plan.counts()
    hidden = {s: counts[s.value] for s in Status}
    for t in shown:
        hidden[t.status] -= 1

    out: list[str] = []
    if not plan.session.active:
        out.append(f"(archived session {plan.session.sid}; read-only)")
    out.append(goal_text(plan, brief=brief))
    out.append("")
    if not shown and not any(hidden.values()):
        out.append("(no tasks yet)")
    out.extend(task_lines(shown, door=door))
    for status, n in hidden.items():
        if n:
            more = pointer("status", door, status=status.value)
            out.append(f"{status.glyph} … {n:,} more {status.label} (list them: {more})")
    if (legend if legend is not None else not brief) and any(counts.values()):
        out.append("")
        out.append(_legend(s for s in Status if counts[s.value]))
    return "\n".join(out)


def goal_text(plan: Plan, *, brief: bool = False) -> str:
    """``Goal: <title>`` and its description; ``brief`` (after a write: the agent wrote or
    has read the description already) the title alone."""
    if plan.goal is None:
        return "Goal: (not set)"
    text = f"Goal: {one_line(plan.goal.title)}"
    if plan.goal.description.strip() and not brief:
        text += "\n" + plan.goal.description
    return text


def tasks_text(tasks: Sequence[Task], *, whole: bool = False, door: Door = "cli") -> str:
    """A task list: every task with its description (``whole``, or the first lines)."""
    if not tasks:
        return "(no tasks)"
    lines = task_lines(tasks, all_descriptions=True, whole=whole, door=door)
    return "\n".join([*lines, "", legend(tasks)])


def _quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return '"' + shorten(text, limit) + '"'


def _text_change(before: dict[str, str], after: dict[str, str]) -> str:
    parts = []
    if before["title"] != after["title"]:
        parts.append(f"title {_quote(before['title'])} → {_quote(after['title'])}")
    if before["description"] != after["description"]:
        parts.append("description changed")
    return "; ".join(parts) or "no visible change"


def event_details(event: Event) -> str:
    """What an event did, in one line: the task or goal it touched, before → after."""
    p: dict[str, Any] = event.payload
    match event.type:
        case EventType.SESSION_STARTED:
            return f"session started in {p.get('dir', '?')}"
        case EventType.SESSION_ARCHIVED:
            return "session archived" + _open_tasks(p.get("open_tasks"))
        case EventType.SESSION_MOVED:
            return f"session moved from {p.get('dir_before', '?')} to {p.get('dir_after', '?')}"
        case EventType.GOAL_SET:
            return f"goal set: {_quote(p['goal']['title'])}"
        case EventType.GOAL_UPDATED:
            return "goal changed: " + _text_change(p["goal_before"], p["goal_after"])
        case EventType.TASK_ADDED:
            t = p["task"]
            after = f" (after {','.join(t['after'])})" if t.get("after") else ""
            return f"task {t['id']} added: {_quote(t['title'])}{after}"
        case EventType.TASK_UPDATED:
            return f"task {p['task_id']} edited: " + _text_change(p["before"], p["after"])
        case EventType.TASK_STATUS_CHANGED:
            b, a = Status(p["status_before"]), Status(p["status_after"])
            line = (
                f"task {p['task_id']} {_quote(p['title'], 40)}: "
                f"{b.glyph} {b.label} → {a.glyph} {a.label}"
            )
            said = git_summary(p.get("git")) if a is Status.COMPLETED else None
            return f"{line} ({said})" if said else line
        case EventType.TASK_ASKED:
            return (
                f"task {p['task_id']} {_quote(p['title'], 40)}: asked "
                f"{_quote(p['question'], 120)}{choices_text(p.get('choices'))}"
            )
        case EventType.TASK_ANSWERED:
            return (
                f"task {p['task_id']} {_quote(p['title'], 40)}: answered "
                f"{_quote(p['question'], 60)} → {_quote(p['answer'], 120)}"
            )
        case EventType.TASK_ASK_WITHDRAWN:
            return (
                f"task {p['task_id']} {_quote(p['title'], 40)}: question withdrawn "
                f"{_quote(p['question'], 60)}"
            )

        case EventType.TASK_CLAIMED:
            how = "an expired claim of" if p.get("expired") else "the claim of"
            taken = f", taking {how} {p['taken_from']}" if p.get("taken_from") else ""
            return f"task {p['task_id']} {_quote(p['title'], 40)}: claimed{taken}"
        case EventType.TASK_AFTER_CHANGED:
            before = ",".join(p.get("after_before") or []) or "nothing"
            after = ",".join(p.get("after_after") or []) or "nothing"
            return f"task {p['task_id']} {_quote(p['title'], 40)}: waits for {before} → {after}"
        case EventType.SESSION_JOINED:
            return f"folder {p.get('dir', '?')} joined the plan"


def _open_tasks(counts: object) -> str:
    """`` with 2 tasks open (1 in progress, 1 pending)`` for an archive that left work open."""
    if not isinstance(counts, dict) or not counts:
        return ""
    total = sum(int(n) for n in counts.values())
    parts = [f"{n} {Status(s).label}" for s, n in sorted(counts.items(), reverse=True)]
    return f" with {total} task{'' if total == 1 else 's'} open ({', '.join(parts)})"


def choices_text(choices: object) -> str:
    """`` [a | b]`` for a question's answer choices, or ""."""
    if not isinstance(choices, list) or not choices:
        return ""
    return " [" + " | ".join(shorten(str(c), 40) for c in choices) + "]"


def ask_line(ask: Ask) -> str:
    """A task's open question, compactly: ``? agent asks: Which library? [httpx | requests]``."""
    who = ask.by or "someone"
    return f"? {who} asks: {shorten(ask.question, 200)}{choices_text(list(ask.choices))}"


def receipt_text(receipts: Sequence[Receipt]) -> str:
    """``seen by claude-code 14:02; not yet seen — codex last looked 13:40`` (or "")."""
    parts = []
    for r in receipts:
        if r.seen:
            parts.append(f"seen by {r.actor}" + (f" {clock_time(r.seen_at)}" if r.seen_at else ""))
        else:
            last = f" last looked {clock_time(r.last_looked)}" if r.last_looked else ""
            parts.append(f"not yet seen — {r.actor}{last}")
    return "; ".join(parts)


def clock_time(at: str) -> str:
    """``2026-11-24T23:31:04.345525Z`` → ``23:31`` today-ish: the hour and minute (UTC),
    with the date when it is not the same day as now."""
    from datetime import UTC, datetime

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    return at[11:16] if at[:10] == today else short_time(at)[:16]


# Reasons for no git facts that need no words in a log line: the folder is not a work tree
# (most plans), the task was completed without being started (nothing to compare with).
QUIET_SKIPS = ("not a git repository", "no facts were recorded when it started")


def git_summary(git: object) -> str | None:
    """The operator's words for an event's ``git`` facts: "3 files changed, 1 commit",
    "no change", "git facts skipped: …", or None when there is nothing to say."""
    if not isinstance(git, dict):
        return None
    if "skipped" in git:  # outside git, nothing to say; else why there are no facts
        return None if git["skipped"] in QUIET_SKIPS else f"git facts skipped: {git['skipped']}"
    done = git.get("change")
    if not isinstance(done, dict):
        return None
    if "skipped" in done:
        return None if done["skipped"] in QUIET_SKIPS else f"change not measured: {done['skipped']}"
    if not done.get("changed"):
        return "no change in the working tree"
    parts = []
    files, commits = done.get("files"), done.get("commits")
    if files is None:
        parts.append("files changed")
    elif files:
        parts.append(f"{files} file{'' if files == 1 else 's'} changed")
    if commits:
        parts.append(f"{commits} commit{'' if commits == 1 else 's'}")
    return ", ".join(parts) or "changed"


def short_time(at: str) -> str:
    """``2026-11-24T23:31:04.345525Z`` → ``2026-11-24 23:31:04``."""
    return at[:19].replace("T", " ")


def actor_of(event: Event) -> str:
    """Who made the event; events older than actors say so."""
    return event.actor or "(unknown)"


def event_line(event: Event) -> str:
    """``#seq time actor: what`` and the reason, on one line (``np log``)."""
    who = f"{event.actor}: " if event.actor else ""
    line = f"#{event.seq} {short_time(event.at)} {who}{event_details(event)}"
    if event.reason:
        line += f" — reason: {' '.join(event.reason.split())}"
    return line


def change_line(event: Event) -> str:
    """One change of a notice: who, what (glyph, id, title, before → after), the reason
    shortened. Neutral words: every door shows it as is."""
    line = f"#{event.seq} {actor_of(event)}: {event_details(event)}"
    if event.reason:
        line += f" — reason: {shorten(event.reason, REASON_CHARS)}"
    return line


def notice_text(changes: Changes) -> str:
    """The "changed since you last looked" notice that starts an output, or "" when
    nothing changed. Bounded: the newest changes one per line (newest last), older ones
    folded into a count. Names no command: every door shows it as is."""
    if not changes:
        return ""
    answered = {e.seq for e in changes.answers}
    out: list[str] = [answer_text(e) for e in changes.answers]
    events = [e for e in changes.events if e.seq not in answered]
    if not events and not changes.folded:
        return "\n".join(out)
    if out:
        out.append("")
    return "\n".join(out + _changes_lines(changes, events))


def answer_text(event: Event) -> str:
    """An answer to the agent's own question, whole: shown first, once."""
    p: dict[str, Any] = event.payload
    answer = str(p["answer"])
    head = f"Answer from {actor_of(event)} on {p['task_id']}:"
    return f"{head}\n{indent(answer, '  ')}" if "\n" in answer else f"{head} {answer}"


def _changes_lines(changes: Changes, events: Sequence[Event]) -> list[str]:
    total = changes.folded + len(events)
    out = [f"Changed by others since you last looked ({counted(total, 'change')}):"]
    if changes.folded:
        span = f"#{changes.folded_from}–#{changes.folded_to}"
        out.append(
            f"  … {counted(changes.folded, 'earlier change')} "
            f"({span}) folded; the event log has them all."
        )
    out += [f"  {change_line(e)}" for e in events]
    return out


def questions_text(questions: Sequence[dict[str, Any]]) -> str:
    """The operator's list of open questions (``np q``), oldest first, with how to answer."""
    if not questions:
        return "No open questions."
    n = len(questions)
    out = [f"{n} open question{'' if n == 1 else 's'}:"]
    for q in questions:
        out.append(
            f"  {q['task_id']} {_quote(q['title'], 40)} in {q['dir']} — {q.get('by') or 'someone'}"
            f" asked {clock_time(q['at'])}: {shorten(q['question'], 200)}"
            f"{choices_text(q.get('choices'))}"
        )
    first = questions[0]
    out.append(
        f'Answer: np q a -i {first["task_id"]} -a "<answer>" (in that folder, or --session SID)'
    )
    return "\n".join(out)


def export_markdown(plan: Plan, events: Iterable[Event]) -> str:
    """:func:`export_markdown_parts`, joined."""
    return "".join(export_markdown_parts(plan, events))


def export_markdown_parts(plan: Plan, events: Iterable[Event]) -> Iterator[str]:
    """The plan and its event log as CommonMark, in pieces: the plan, then one piece per
    event as ``events`` yields it (memory stays flat with a streamed log). Whatever the
    user's text holds (titles, descriptions, reasons, actors, recorded commands), the
    outline is np's own: one-line text is escaped (:func:`inline`), descriptions and
    multi-line commands are fenced code blocks (:func:`fenced`), so no heading, list item,
    emphasis, link or raw HTML comes from the user."""
    s = plan.session
    counts = plan.counts()
    done = counts["completed"]
    out = [
        f"# {inline(plan.goal.title) if plan.goal else 'Plan (no goal set)'}",
        "",
        f"- Session: {code(s.sid)} ({s.state})",
        f"- Directory: {code(s.dir)}",
        f"- Started: {s.created_at} · last updated: {s.last_updated_at}"
        + (f" · archived: {s.archived_at}" if s.archived_at else ""),
        f"- Progress: {done}/{len(plan.tasks)} completed"
        + "".join(
            f" · {counts[k]} {k}" for k in ("in_progress", "failed", "cancelled") if counts[k]
        ),
        "",
        "## Goal",
        "",
    ]
    if plan.goal is None:
        out.append("_No goal set._")
    else:
        out += [f"**{inline(plan.goal.title)}**", ""]
        if plan.goal.description.strip():
            out.append(fenced(plan.goal.description))
    out += ["", "## Tasks", ""]
    if not plan.tasks:
        out.append("_No tasks._")
    for t in plan.tasks:
        out.append(f"- {t.status.glyph} {code(t.id)} **{inline(t.title)}** — {t.status.label}")
        if t.reason and t.status in (Status.FAILED, Status.CANCELLED):
            out.append(f"  - Reason: {inline(t.reason)}")
        if t.description.strip():
            out.append("")
            out.append(indent(fenced(t.description), "  "))
    out += ["", "## Event log", ""]
    yield "\n".join(out)
    # A bullet list, not an ordered one: "10. " would need its sub-items indented four
    # spaces, and the list used to fall apart in CommonMark from event #10 on.
    for e in events:
        lines = [
            f"- **#{e.seq}** {code(e.at)} **{e.type}** — {inline(event_details(e))}",
            f"  - By: {inline(e.actor) if e.actor else '(not recorded)'}",
        ]
        if e.reason:
            lines.append(f"  - Reason: {inline(e.reason)}")
        if "\n" in e.cmd:
            lines.append("  - Command:")
            lines.append(indent(fenced(e.cmd, "sh"), "    "))
        else:
            lines.append(f"  - Command: {code(e.cmd)}")
        yield "\n" + "\n".join(lines)
    yield "\n"


# ASCII punctuation that means something inline in CommonMark (or in a common extension:
# ``~`` strike-through, ``|`` tables): escaped with a backslash, which CommonMark allows
# before any ASCII punctuation.
_MARKDOWN_ESCAPES = {ord(c): "\\" + c for c in "\\`*_[]<>!&#~|"}


def inline(text: str) -> str:
    """``text`` as one line of CommonMark inline text that renders as itself: line breaks
    and runs of white space one space, and every character that could start emphasis, code,
    a link, an entity, raw HTML or a heading's closing sequence escaped."""
    return " ".join(one_line(text).split()).translate(_MARKDOWN_ESCAPES)


def fenced(text: str, info: str = "text") -> str:
    """``text`` as a CommonMark fenced code block: its lines verbatim (line ends made
    ``\n``, blank lines at either end dropped), fenced by more backticks than any run in
    it, so no line of it can close the block early."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = "\n".join(line.rstrip() for line in text.strip("\n").splitlines())
    return f"{fence}{info}\n{body}\n{fence}"


def code(text: str) -> str:
    """``text`` as a CommonMark code span, fenced by more backticks than any run in it."""
    text = one_line(text)
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or text.strip(" ") != text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def export_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def export_json_parts(head: dict[str, Any], events: Iterable[Any]) -> Iterator[str]:
    """:func:`export_json` of ``{**head, "events": [*events]}``, byte for byte, in pieces:
    the head, then one piece per event as ``events`` yields it."""
    text = json.dumps({**head, "events": []}, ensure_ascii=False, indent=2)
    tail = "[]\n}"
    assert text.endswith(tail)
    first = True
    for event in events:
        piece = json.dumps(event, ensure_ascii=False, indent=2).replace("\n", "\n    ")
        if first:
            yield text[: -len(tail)] + "[\n    " + piece
            first = False
        else:
            yield ",\n    " + piece
    yield text + "\n" if first else "\n  ]\n}\n"
