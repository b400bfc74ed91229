"""``np m``: the live terminal monitor a person keeps open beside an agent.

The top of the screen is the plan (goal, tasks with glyphs, progress), the rest is the
event log, newest first, and a footer lists the keys. Any commit by any process shows up
within a poll interval (100 ms) because the monitor watches the database with
``store.feed.open_feed`` — the same mechanism ``np serve`` uses for ``np/didChange``.

Why rich and not textual: the screen is a simple two-pane view with a handful of keys.
rich starts in a fraction of the time textual needs (no app framework, no asyncio loop, no
CSS), which matters for a command that people start and quit all day; its ``Live`` display
in alternate-screen mode redraws in place without flicker, and we read keys ourselves with
termios/select on stdin. rich (and the view module that uses it) is imported only when
``np m`` runs, so every other command stays fast.

The loop sleeps in ``select`` on stdin and a signal wake-up pipe for at most the poll
interval, checks ``PRAGMA data_version`` (microseconds, no page reads) and redraws only
when the data, the terminal size or the view state changed: no flicker, next to no CPU
when idle. Not a terminal (piped, or ``TERM=dumb``): the current view is printed once as
plain text and ``np m`` exits 0.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING

from server.exits import EXIT_INTERRUPTED, EXIT_OK, OutputFailed
from store import StorageBusy, Store
from store.feed import POLL_INTERVAL, Feed, open_feed

if TYPE_CHECKING:
    from .view import Frame, Snapshot, ViewState

from .keys import (
    ANSWER,
    BACKSPACE,
    CANCEL,
    DESCRIPTIONS,
    DOWN,
    END,
    ENTER,
    FOCUS,
    HOME,
    PAGE_DOWN,
    PAGE_UP,
    QUIT,
    REDRAW,
    UP,
)
from .terminal import _terminal
from .watcher import LIVE_EVENT_LIMIT, Watcher

# -- the screen loop ----------------------------------------------------------------------------

RECEIPT_TICKS = 10  # receipts are read again every this many poll intervals (about 1 s)


def _touched(feed: Feed) -> set[str]:
    try:
        return {change.sid for change in feed.poll()}
    except StorageBusy:  # a reader is never meant to be busy; try again next tick
        return set()


def _scroll(key: str, at: int, page: int, last: int) -> int | None:
    """Where a scroll key moves a pane showing ``page`` items from ``at`` (0 … ``last``);
    None for any other key."""
    moves = {UP: at - 1, DOWN: at + 1, PAGE_UP: at - page, PAGE_DOWN: at + page}
    moves |= {HOME: 0, END: last}
    return max(0, min(last, moves[key])) if key in moves else None


def _apply_key(key: str, state: ViewState, frame: Frame) -> None:
    """Scroll keys move the focused pane within the bounds of the frame on screen: the event
    log, or after Tab the task list (Tab again: back to the log, and the task list follows
    the agent's focus again); ``d`` toggles the task descriptions."""
    if key == FOCUS:
        state.focus = "tasks" if state.focus == "events" else "events"
        if state.focus == "events":
            state.task_start = None
        return
    if state.focus == "tasks":
        at = frame.task_start if state.task_start is None else state.task_start
        moved = _scroll(key, at, max(1, frame.task_page), frame.task_max_start)
        if moved is not None:
            state.task_start = moved
            return
    moved = _scroll(key, state.offset, max(1, frame.page), frame.max_offset)
    if moved is not None:
        state.offset = moved
    elif key == DESCRIPTIONS:
        state.descriptions = not state.descriptions


def _feed_socket(feed: Feed) -> int | None:
    try:
        return feed.fileno()
    except Exception:  # a feed between connections: poll
        return None


def _answer_key(key: str, state: ViewState, watcher: Watcher, actor: str) -> bool:
    """A key while an answer is typed (``a``): text, Backspace, Esc, or Enter, which sends
    it through the command table (np.task.answer, as the operator ``actor``). Returns
    whether the terminal goes back to keys."""
    a = state.answering
    assert a is not None
    if key == CANCEL:
        state.answering, state.message = None, "Answer cancelled; nothing was sent."
        return True
    if key == BACKSPACE:
        a.text = a.text[:-1]
        return False
    if key.startswith("text:"):
        ch = key[5:]
        if not a.text and ch.isdigit() and 1 <= int(ch) <= len(a.choices):
            a.text = a.choices[int(ch) - 1]  # a choice by its number
        else:
            a.text += ch
        return False
    if key != ENTER:
        return False
    if not a.text.strip():
        state.message = "Type an answer (or a choice's number), then Enter; Esc cancels."
        return False
    from server.commands import Context, execute
    from store import NpError

    ctx = Context(watcher.store, watcher.directory, "np m (answer)", actor=actor)
    try:
        execute("np.task.answer", ctx, {"sid": a.sid, "id": a.task_id, "answer": a.text})
    except NpError as exc:
        state.answering, state.message = None, f"Not answered: {exc.message}"
        return True
    state.answering = None
    state.message = f"Answered {a.task_id}; the agent gets it first in its next output."
    return True


def _start_answer(state: ViewState, snapshot: Snapshot) -> bool:
    """The ``a`` key: type an answer to the oldest open question on screen."""
    from .view import Answering, open_questions

    asked = open_questions(snapshot.plan)
    if not asked or snapshot.plan is None or asked[0].ask is None:
        state.message = "No open question in this plan."
        return False
    task, ask = asked[0], asked[0].ask
    state.answering = Answering(snapshot.plan.session.sid, task.id, ask.question, ask.choices)
    state.message = ""
    return True


def _screen(watcher: Watcher, feed: Feed, actor: str = "operator") -> int:
    from rich.console import Console, Group
    from rich.live import Live

    from .view import ViewState, build_screen

    console = Console(highlight=False)
    stdin_is_tty = sys.stdin.isatty()
    state = ViewState(keys=stdin_is_tty)
    snapshot = watcher.snapshot()
    live = Live(
        console=console,
        screen=True,
        auto_refresh=False,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with _terminal(sys.stdin.fileno(), keys=stdin_is_tty) as term:
        live.start()
        try:
            ticks = 0
            size = None
            frame = build_screen(snapshot, state, *console.size)
            dirty = True
            while not term.quit:
                if term.suspend:
                    term.suspend = False
                    live.stop()
                    term.restore()
                    term.stop_self()
                    term.raw()
                    live.start()
                    dirty = True
                if term.resized or console.size != size:
                    term.resized = False
                    dirty = True
                if dirty:
                    size = console.size
                    frame = build_screen(snapshot, state, size.width, size.height)
                    state.offset = frame.offset
                    if state.task_start is not None:
                        state.task_start = frame.task_start  # clamped to the list's end
                    live.update(Group(*frame.lines), refresh=True)
                    dirty = False
                for key in term.wait(POLL_INTERVAL, _feed_socket(feed)):
                    dirty = True
                    if state.answering is not None:
                        if _answer_key(key, state, watcher, actor):
                            term.text = False
                        continue
                    if key == QUIT:
                        term.quit = True
                        break
                    state.message = ""
                    if key == REDRAW:
                        console.clear()
                    elif key == ANSWER:
                        term.text = _start_answer(state, snapshot)
                    else:
                        _apply_key(key, state, frame)
                ticks += 1
                if ticks % RECEIPT_TICKS == 0 and watcher.refresh_receipts():
                    snapshot = watcher.snapshot()  # an agent read: its receipts moved
                    dirty = True
                touched = _touched(feed)
                if touched:
                    shown, before = watcher.shown_sid, watcher.last_seq
                    if watcher.apply(touched):
                        if watcher.shown_sid != shown:
                            state.offset = 0
                        elif state.offset:  # scrolled back: keep the same events in view
                            state.offset += watcher.last_seq - before
                        watcher.refresh_receipts()
                        snapshot = watcher.snapshot()
                        dirty = True
        finally:
            with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
                live.stop()
    # q quits (0); Ctrl-C, SIGTERM or SIGHUP stop it as they stop every verb (130)
    return EXIT_OK if term.stopped_by is None else EXIT_INTERRUPTED


def run_monitor(db_path: str, directory: str, sid: str | None, actor: str = "operator") -> int:
    """``np m [--session SID]``: the live monitor, or the view once when not a terminal.
    ``actor`` is who answers a question from it (the ``a`` key)."""
    store: Store | None = None
    feed: Feed | None = None
    try:
        store = Store(db_path)
        # rich draws nothing on a dumb terminal: treat it like a pipe
        if sys.stdout is None:
            raise OutputFailed("standard output is closed")
        interactive = sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
        if interactive:  # the feed first, so no commit falls between it and the first read
            feed = open_feed(db_path)
        if feed is None:  # the view once: only the events it shows are read
            from .view import PLAIN_EVENT_LIMIT, plain_view

            watcher = Watcher(store, directory, sid, recent=PLAIN_EVENT_LIMIT)
            watcher.load()
            watcher.refresh_receipts()

            try:
                sys.stdout.write(plain_view(watcher.snapshot()))
                sys.stdout.flush()
            except BrokenPipeError:
                raise
            except (OSError, ValueError) as exc:
                raise OutputFailed(getattr(exc, "strerror", None) or str(exc)) from None
            return EXIT_OK
        watcher = Watcher(store, directory, sid, recent=LIVE_EVENT_LIMIT)
        watcher.load()
        watcher.refresh_receipts()
        return _screen(watcher, feed, actor)
    finally:  # a StorageError goes up to the CLI's one error path (exit 3)
        if feed is not None:
            feed.close()
        if store is not None:
            store.close()
