"""What ``np m`` shows: a pure function from a snapshot of the store to lines of rich text.

Nothing here touches the terminal or the database, so every view is tested at fixed sizes.
The screen is built line by line (wrapping done here, with hanging indents), which keeps
the layout exact: the header, the plan on top, the event log below and the footer always
add up to the terminal's height, and the event log knows how many events it shows.

This module imports rich at module level; only ``server.monitor`` imports it, and the CLI
imports that only for ``np m``, so other commands never pay for rich.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import attrs
from rich.console import Console
from rich.text import Text

from server.text.render import (
    ask_line,
    event_details,
    indent,
    legend,
    receipt_text,
    short_time,
    shorten,
    waits_and_holder,
)
from store import Event, EventType, Plan, Session, Status, Task
from store.receipts import Receipt
from store.text import counted, one_line, shorten_start
from store.types import count_statuses

STATUS_STYLE: dict[Status, str] = {
    Status.PENDING: "",
    Status.IN_PROGRESS: "bold yellow",
    Status.COMPLETED: "green",
    Status.FAILED: "bold red",
    Status.CANCELLED: "dim",
}
BAR = "reverse"
GOAL_DESCRIPTION_LINES = 3  # on screen, unless descriptions are toggled on
WIDE = 80  # narrower screens show event times without the date
PLAIN_EVENT_LIMIT = 200  # the one-shot (piped) view: newest events, then a count


@attrs.frozen
class Snapshot:
    """Everything one frame needs, read from the store."""

    directory: str
    plan: Plan | None = None
    events: tuple[Event, ...] = ()  # newest first
    elsewhere: tuple[Session, ...] = ()  # active sessions, when none is shown here
    pinned: bool = False  # --session SID: no switching, no waiting
    # by seq: which other actors working on the plan have seen each event (receipts)
    receipts: dict[int, tuple[Receipt, ...]] = attrs.field(factory=dict)
    total: int | None = None  # events in the whole log, when ``events`` holds only the newest


@attrs.define
class ViewState:
    """What the person at the keyboard changed: scroll position and the toggle."""

    offset: int = 0  # events skipped from the newest (0 = follow the newest)
    descriptions: bool = False
    keys: bool = True  # the keyboard is ours (stdin is a terminal)
    focus: str = "events"  # the pane the scroll keys move: "events" or "tasks" (Tab)
    task_start: int | None = None  # the first task shown; None: follow the agent's focus
    answering: Answering | None = None  # the a key: an answer being typed
    message: str = ""  # one line for the footer (what the last answer did), until a key


@attrs.define
class Answering:
    """The question the operator is answering from ``np m`` and the answer typed so far."""

    sid: str
    task_id: str
    question: str
    choices: tuple[str, ...]
    text: str = ""


def open_questions(plan: Plan | None) -> list[Task]:
    """The tasks of ``plan`` with an open question, oldest question first."""
    if plan is None:
        return []
    asked = [t for t in plan.tasks if t.ask is not None]
    return sorted(asked, key=lambda t: t.ask.seq if t.ask else 0)


@attrs.frozen
class Frame:
    lines: list[Text]
    offset: int  # the scroll offset actually used (clamped)
    max_offset: int
    page: int  # events visible in the log pane
    task_start: int = 0  # the first task shown (clamped)
    task_max_start: int = 0  # the largest first task that still fills the task pane
    task_page: int = 0  # tasks visible in the task pane


# -- wrapping -------------------------------------------------------------------------------

_wrap_console: Console | None = None


def _console() -> Console:
    global _wrap_console  # noqa: PLW0603 - one scratch console for Text.wrap
    if _wrap_console is None:
        _wrap_console = Console(file=io.StringIO(), width=200, color_system=None)
    return _wrap_console


def wrap(text: Text, width: int | None) -> list[Text]:
    """``text`` split at newlines and, given a width, word-wrapped to it."""
    if width is None:
        return list(text.split("\n", allow_blank=True))
    lines = list(text.wrap(_console(), max(1, width), overflow="fold"))
    for line in lines:
        line.rstrip()
    return lines


def hang(prefix: Text, body: Text, width: int | None) -> list[Text]:
    """``prefix`` then ``body``, wrapped with continuation lines indented under the body."""
    room = None if width is None else width - prefix.cell_len
    if room is not None and room < 12:
        return wrap(Text.assemble(prefix, body), width)
    out: list[Text] = []
    pad = Text(" " * prefix.cell_len)
    for i, line in enumerate(wrap(body, room)):
        out.append(Text.assemble(prefix if i == 0 else pad, line))
    return out or [prefix.copy()]


def _bar(left: str, right: str, width: int | None, short: str = "") -> Text:
    """A full-width bar with ``left`` and, where it fits, ``right`` (else ``short``) at the
    right edge."""
    if width is None:
        return Text(f"{left}  {right}".strip())
    if len(left) + len(right) + 2 > width:
        right = short if len(left) + len(short) + 2 <= width else ""
    gap = max(1, width - len(left) - len(right))
    text = Text(left + " " * gap + right, style=BAR)
    text.truncate(width, overflow="ellipsis")
    return text


# -- pieces -------------------------------------------------------------------------------------


def progress_text(tasks: Sequence[Task]) -> str:
    """``4/9 completed · 1 in progress · 1 failed · 1 cancelled`` (zero counts left out)."""
    counts = count_statuses(t.status for t in tasks)
    parts = [f"{counts['completed']}/{len(tasks)} completed"]
    parts += [
        f"{counts[s.value]} {s.label}"
        for s in (Status.IN_PROGRESS, Status.FAILED, Status.CANCELLED)
        if counts[s.value]
    ]
    return " · ".join(parts)


def task_block(task: Task, *, description: bool, width: int | None) -> list[Text]:
    """One task as ``render.task_line`` writes it (glyph, id, title, indented description),
    styled by status and wrapped to ``width``."""
    style = STATUS_STYLE[task.status]
    prefix = Text.assemble((task.status.glyph, style), " ", (task.id, "cyan"), " ")
    title = Text(one_line(task.title), style=style)
    title.append(waits_and_holder(task), style="dim")  # what it waits for, who holds it
    lines = hang(prefix, title, width)
    if description and task.description.strip():
        body = indent(task.description)
        lines += wrap(Text(body, style="dim"), width)
    if task.reason and task.status in (Status.FAILED, Status.CANCELLED):
        lines += wrap(Text(indent(f"reason: {task.reason}"), style="italic dim"), width)
    if task.ask is not None:
        lines += wrap(Text(indent(ask_line(task.ask)), style="bold magenta"), width)
    return lines


def event_text(event: Event) -> Text:
    """``render.event_line`` without the seq and time: what it touched, before → after,
    and the reason, styled."""
    style = "cyan" if event.type in (EventType.SESSION_STARTED, EventType.SESSION_ARCHIVED) else ""
    text = Text()
    if event.actor:  # who did it; events older than actors have none
        text.append(f"{event.actor}: ", style="bold")
    text.append(event_details(event), style=style)
    for status in Status:
        if STATUS_STYLE[status]:
            text.highlight_words([f"{status.glyph} {status.label}"], STATUS_STYLE[status])
    if event.reason:
        text.append(" — reason: ", style="dim")
        text.append(" ".join(event.reason.split()), style="italic")
    return text


def event_block(
    event: Event, width: int | None, seq_width: int = 0, receipts: Sequence[Receipt] = ()
) -> list[Text]:
    """``#seq time`` then the event, continuation lines indented under it; under it, who of
    the others working on the plan has seen it (its receipts), when any."""
    at = short_time(event.at)
    if width is not None and width < WIDE:
        at = at[11:]  # the time of day only; the date costs too much room
    prefix = Text.assemble((f"#{event.seq}".rjust(seq_width + 1), "dim"), " ", (at, "dim"), " ")
    lines = hang(prefix, event_text(event), width)
    said = receipt_text(receipts)
    if said:
        pad = Text(" " * prefix.cell_len)
        style = "dim green" if all(r.seen for r in receipts) else "yellow"
        lines += hang(pad, Text(said, style=style), width)
    return lines


def header(snap: Snapshot, width: int | None) -> Text:
    plan = snap.plan
    where = plan.session.dir if plan else snap.directory
    state = "no session" if plan is None else str(plan.session.state)
    room = None if width is None else width - len(" np m · ") - len(state) - 3
    if room is not None and len(where) > room:
        where = shorten_start(where, max(room, 2))
    right = state if plan is None else f"session {plan.session.sid} · {state}"
    if plan is not None and plan.session.scope:  # a shared PostgreSQL database: whose machine
        right = f"{plan.session.scope} · {right}"
    return _bar(f" np m · {where}", right + " ", width, state + " ")


def footer(state: ViewState, width: int | None, questions: int = 0) -> Text:
    if state.answering is not None:
        a = state.answering
        picks = "".join(f" {n}={c}" for n, c in enumerate(a.choices[:9], 1))
        head = f" Answer {a.task_id} ({shorten(a.question, 60)}{';' if picks else ''}{picks}): "
        tail = "▏ Enter send · Esc cancel"
        text = head + a.text
        if width is not None and len(text) + len(tail) >= width:
            text = head[: max(0, width // 2)] + "…" + a.text[-max(1, width // 2 - len(tail)) :]
        return _bar(text + tail, "", width)
    if state.message:
        return _bar(f" {state.message}", "", width)
    if not state.keys:
        return _bar(" Ctrl-C quit", "", width)
    if questions:
        asks = f" · a answer ({questions} open)"
        keys = f" q quit · ↑↓ scroll · Tab {'events' if state.focus == 'tasks' else 'tasks'}"
        return _bar(keys + asks, "", width)
    toggle = "on" if state.descriptions else "off"
    pane, other = ("tasks", "events") if state.focus == "tasks" else ("events", "tasks")
    keys = f" q quit · ↑↓ PgUp PgDn Home End scroll {pane} · Tab {other}"
    fits = [f"{keys} · d descriptions ({toggle})", f"{keys} · d descr. ({toggle})"]
    short = f" q quit · ↑↓ scroll {pane} · Tab {other} · d descr. ({toggle})"
    text = next((t for t in fits if width is None or len(t) < width), short)
    return _bar(text, "", width)


def goal_lines(plan: Plan, width: int | None, max_description: int | None) -> list[Text]:
    if plan.goal is None:
        return [Text.assemble(("Goal: ", "bold"), ("(not set yet)", "dim"))]
    out = hang(Text("Goal: ", style="bold"), Text(one_line(plan.goal.title), style="bold"), width)
    description = plan.goal.description.strip("\n")
    if description.strip():
        lines = wrap(Text(description), width)
        if max_description is not None and len(lines) > max_description:
            lines = lines[:max_description]
            last = lines[-1]
            if width is not None and last.cell_len >= width:
                last.truncate(width - 1)
            last.append("…", style="dim")
        out += lines
    return out


def no_session_lines(snap: Snapshot, width: int | None, *, live: bool) -> list[Text]:
    out = wrap(
        Text.assemble(
            ("No active session ", "bold"),
            f"in {snap.directory} or any folder above it. ",
            "An agent starts one there with ",
            ("np s", "bold"),
            "; this screen switches to it as soon as it starts." if live else ".",
        ),
        width,
    )
    out.append(Text())
    if not snap.elsewhere:
        out.append(Text("No active sessions anywhere else (np ls).", style="dim"))
        return out
    out.append(Text("Active sessions elsewhere (np ls):", style="bold"))
    for s in snap.elsewhere:
        out += hang(
            Text.assemble(
                "  ",
                (s.sid, "cyan"),
                "  ",
                (short_time(s.last_updated_at), "dim"),
                "  ",
                (f"{s.scope}  " if s.scope else "", "magenta"),
            ),
            Text(s.dir),
            width,
        )
    out.append(Text())
    out += wrap(Text("Watch one of them with: np m --session SID", style="dim"), width)
    return out


@attrs.frozen
class TaskWindow:
    """The tasks on screen: their lines (with the "more above/below" markers), the first
    task shown, how many are shown, and the largest first task that still fills the pane."""

    lines: list[Text]
    start: int = 0
    shown: int = 0
    max_start: int = 0


def _last_start(blocks: list[list[Text]], room: int) -> int:
    """The first task of the last page: the most tasks from the end that fit in ``room``."""
    used, start = 0, len(blocks)
    while start > 0 and (used + len(blocks[start - 1]) <= room or start == len(blocks)):
        used += len(blocks[start - 1])
        start -= 1
    return start


def _task_window(
    blocks: list[list[Text]], tasks: Sequence[Task], rows: int, first: int | None = None
) -> TaskWindow:
    """The tasks that fit in ``rows``, with a count of those above and below: from task
    ``first`` when the person scrolled the list (clamped to the last page), else around the
    first open task (the agent's focus)."""
    if rows <= 0:
        return TaskWindow([])
    if sum(len(b) for b in blocks) <= rows:
        return TaskWindow([line for b in blocks for line in b], 0, len(blocks), 0)
    room = max(1, rows - 2)  # two marker lines
    last = _last_start(blocks, room)
    if first is not None:
        start = end = max(0, min(first, last))
        used = 0
        while end < len(blocks) and (used + len(blocks[end]) <= room or end == start):
            used += len(blocks[end])
            end += 1
    else:
        anchor = next((i for i, t in enumerate(tasks) if t.status is Status.IN_PROGRESS), None)
        if anchor is None:
            anchor = next(
                (i for i, t in enumerate(tasks) if t.status is Status.PENDING), len(tasks) - 1
            )
        start, end = anchor, anchor + 1
        used = len(blocks[anchor])
        for _ in range(2):  # a little context: the tasks just before the focus
            if start > 0 and used + len(blocks[start - 1]) <= room:
                start -= 1
                used += len(blocks[start])
        while end < len(blocks) and used + len(blocks[end]) <= room:
            used += len(blocks[end])
            end += 1
        while start > 0 and used + len(blocks[start - 1]) <= room:
            start -= 1
            used += len(blocks[start])
    out: list[Text] = []
    if start:
        out.append(Text(f"  … {start} more above", style="dim"))
    for b in blocks[start:end]:
        out += b
    if end < len(blocks):
        out.append(Text(f"  … {len(blocks) - end} more below", style="dim"))
    return TaskWindow(out[:rows], start, end - start, max(last, start))


def plan_lines(
    snap: Snapshot, state: ViewState, width: int | None, budget: int | None
) -> list[Text]:
    """The top pane: goal, tasks, progress (and legend), within ``budget`` lines."""
    return _plan_pane(snap, state, width, budget)[0]


def _plan_pane(
    snap: Snapshot, state: ViewState, width: int | None, budget: int | None
) -> tuple[list[Text], TaskWindow]:
    """plan_lines, and which tasks are on screen (for the task list's scroll keys)."""
    plan = snap.plan
    assert plan is not None
    out: list[Text] = []
    if not plan.session.active:
        note = (
            "This session is archived (read-only)."
            if snap.pinned
            else f"This session is archived; waiting for a new one in {snap.directory} (np s)."
        )
        out += wrap(Text(note, style="yellow"), width)
    bounded = budget is not None and not state.descriptions
    out += goal_lines(plan, width, GOAL_DESCRIPTION_LINES if bounded else None)
    out.append(Text())
    progress = Text(progress_text(plan.tasks), style="bold")
    key = Text(legend(plan.tasks), style="dim")
    if width is not None and progress.cell_len + 3 + key.cell_len <= width:
        tail = [Text.assemble(progress, " " * (width - progress.cell_len - key.cell_len), key)]
    else:
        tail = [progress, *([key] if width is None else [])]
    window = TaskWindow([Text("(no tasks yet)", style="dim")])
    if plan.tasks:
        blocks = [task_block(t, description=state.descriptions, width=width) for t in plan.tasks]
        rows = None if budget is None else budget - len(out) - len(tail)
        if rows is None:
            window = TaskWindow([line for b in blocks for line in b], 0, len(blocks))
        else:
            window = _task_window(blocks, plan.tasks, rows, state.task_start)
    out += [*window.lines, *tail]
    return (out if budget is None else out[: max(budget, 0)]), window


def _event_title(n: int, first: int, last: int, width: int | None) -> Text:
    label = " Events, newest first "
    if n == 0:
        span = ""
    elif first > 1:
        span = f" ↑ {first - 1} newer · {first}–{last} of {n} "
    else:
        span = f" {first}–{last} of {n} "
    if width is None:
        return Text(label.strip() + (f" ({span.strip()})" if span else "") + ":", style="bold")
    fill = width - 1 - len(label) - len(span) - 1
    if fill < 1:
        return Text(("─" + label)[:width], style="bold")
    return Text.assemble(("─" + label, "bold"), ("─" * fill, "dim"), span, ("─", "dim"))


def max_offset(
    events: Sequence[Event],
    width: int,
    rows: int,
    seq_width: int,
    receipts: dict[int, tuple[Receipt, ...]] | None = None,
) -> int:
    """The largest scroll offset that still fills the pane (End shows the oldest events)."""
    used = 0
    fit = 0
    for event in reversed(events):
        used += len(event_block(event, width, seq_width, (receipts or {}).get(event.seq, ())))
        if used > rows:
            break
        fit += 1
    return max(0, len(events) - max(fit, 1))


def build_screen(snap: Snapshot, state: ViewState, width: int, height: int) -> Frame:
    """Exactly ``height`` lines, none wider than ``width``."""
    width, height = max(width, 1), max(height, 1)
    top: list[Text] = [header(snap, width)]
    bottom = footer(state, width, len(open_questions(snap.plan)))
    rows = height - 2  # between header and footer
    if snap.plan is None:
        body = no_session_lines(snap, width, live=True)[: max(rows, 0)]
        body += [Text() for _ in range(max(rows, 0) - len(body))]
        lines = [*top, *body, bottom][:height]
        return Frame(lines, 0, 0, 0)

    events = snap.events
    log_min = min(rows, max(5, rows * 2 // 5))
    pane_lines, window = _plan_pane(snap, state, width, rows - log_min)
    top += pane_lines
    pane = height - len(top) - 1 - 1  # minus the footer and the log's title
    seq_width = len(str(events[0].seq)) if events else 0
    limit = max_offset(events, width, max(pane, 1), seq_width, snap.receipts)
    offset = max(0, min(state.offset, limit))
    log: list[Text] = []
    shown = 0
    for event in events[offset:]:
        block = event_block(event, width, seq_width, snap.receipts.get(event.seq, ()))
        if len(log) + len(block) > pane and log:
            break
        log += block
        shown += 1
        if len(log) >= pane:
            break
    log = log[: max(pane, 0)]
    if not events:
        log = [Text("(no events yet)", style="dim")][: max(pane, 0)]
    log += [Text() for _ in range(max(pane, 0) - len(log))]
    total = len(events) if snap.total is None else max(snap.total, len(events))
    title = _event_title(total, offset + 1, offset + shown, width)
    lines = [*top, title, *log, bottom][:height]
    if len(lines) < height:
        lines[-1:-1] = [Text() for _ in range(height - len(lines))]
    for line in lines:
        line.no_wrap = True
        line.overflow = "crop"
        line.truncate(width)
    return Frame(
        lines, offset, limit, max(shown, 1), window.start, window.max_start, max(window.shown, 1)
    )


def plain_view(snap: Snapshot, state: ViewState | None = None) -> str:
    """The whole view once, as plain text without wrapping (``np m`` when piped)."""
    state = state or ViewState(keys=False)
    out: list[Text] = [header(snap, None), Text()]
    if snap.plan is None:
        out += no_session_lines(snap, None, live=False)
    else:
        out += plan_lines(snap, state, None, None)
        out.append(Text())
        events = snap.events
        total = len(events) if snap.total is None else max(snap.total, len(events))
        shown = events[:PLAIN_EVENT_LIMIT]
        out.append(_event_title(total, 1, len(shown), None))
        seq_width = len(str(events[0].seq)) if events else 0
        for event in shown:
            out += event_block(event, None, seq_width, snap.receipts.get(event.seq, ()))
        if not events:
            out.append(Text("(no events yet)"))
        if total > len(shown):
            out.append(
                Text(f"… and {counted(total - len(shown), 'older event')} (np export has them all)")
            )
    return "\n".join(line.plain.rstrip() for line in out) + "\n"
