"""``np m``: the live terminal monitor a person keeps open beside an agent.

The top of the screen is the plan (goal, tasks with glyphs, progress), the rest is the
event log, newest first, and a footer lists the keys. Any commit by any process shows up
within a poll interval (100 ms) because the monitor watches the database with
``store.watch.ChangeFeed`` — the same mechanism ``np serve`` uses for ``np/didChange``.

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
import select
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

from server.exits import EXIT_OK
from store import Event, Plan, Session, StorageBusy, Store
from store.paths import canonical_dir
from store.watch import POLL_INTERVAL, ChangeFeed

if TYPE_CHECKING:
    from .view import Frame, Snapshot, ViewState

ELSEWHERE_LIMIT = 20
ESCAPE_WAIT = 0.05  # a lone ESC byte: wait this long for the rest of a sequence

# -- the data: one session's plan and events, kept current from the change feed -------------


class Watcher:
    """The session ``np m`` shows and its events, refreshed when the feed reports a commit.

    Without ``sid`` it follows the directory: the nearest active session at or above it
    (the parent walk), switching when a new one starts; an archived session stays on screen
    until then. With ``sid`` it shows that session, archived or not, and never switches.
    Events are append-only, so after the first load only the new ones are read.
    """

    def __init__(self, store: Store, directory: str, sid: str | None = None) -> None:
        self.store = store
        self.directory = canonical_dir(directory)
        self.sid = sid
        self.plan: Plan | None = None
        self.events: list[Event] = []  # oldest first
        self.elsewhere: list[Session] = []

    @property
    def shown_sid(self) -> str | None:
        return self.plan.session.sid if self.plan else None

    def load(self) -> None:
        """Read everything afresh (the first frame)."""
        if self.sid is not None:
            self._show(self.store.session(self.sid).sid)
            return
        active = self.store.find_active(self.directory)
        if active is None:
            self.plan, self.events = None, []
            self._load_elsewhere()
        else:
            self._show(active.sid)

    def _show(self, sid: str) -> None:
        self.plan = self.store.plan(sid)
        self.events = self.store.events(sid)
        self.elsewhere = []

    def _load_elsewhere(self) -> None:
        self.elsewhere = [
            s
            for s in self.store.sessions("active", limit=ELSEWHERE_LIMIT)
            if s.dir != self.directory
        ]

    def _refresh_current(self) -> None:
        assert self.plan is not None
        sid = self.plan.session.sid
        self.plan = self.store.plan(sid)
        last = self.events[-1].seq if self.events else 0
        self.events += self.store.events(sid, after_seq=last)

    def apply(self, touched: set[str]) -> bool:
        """Bring the data up to date after commits to the sessions ``touched``; say whether
        anything on screen may have changed."""
        if not touched:
            return False
        current = self.shown_sid
        if self.sid is None:
            active = self.store.find_active(self.directory)
            if active is not None and active.sid != current:
                self._show(active.sid)
                return True
            if current is None:
                self._load_elsewhere()
                return True
        if current is not None and current in touched:
            self._refresh_current()
            return True
        return False

    def snapshot(self) -> Snapshot:
        from .view import Snapshot

        return Snapshot(
            directory=self.directory,
            plan=self.plan,
            events=tuple(reversed(self.events)),
            elsewhere=tuple(self.elsewhere),
            pinned=self.sid is not None,
        )


# -- keys ---------------------------------------------------------------------------------------

QUIT, UP, DOWN, PAGE_UP, PAGE_DOWN, HOME, END, DESCRIPTIONS, REDRAW = (
    "quit",
    "up",
    "down",
    "page_up",
    "page_down",
    "home",
    "end",
    "descriptions",
    "redraw",
)
_PLAIN_KEYS = {
    "q": QUIT,
    "Q": QUIT,
    "\x03": QUIT,  # Ctrl-C when the terminal passes it through
    "k": UP,
    "j": DOWN,
    "b": PAGE_UP,
    " ": PAGE_DOWN,
    "g": HOME,
    "G": END,
    "d": DESCRIPTIONS,
    "D": DESCRIPTIONS,
    "\x0c": REDRAW,  # Ctrl-L
}
_FINAL_KEYS = {"A": UP, "B": DOWN, "H": HOME, "F": END}
_TILDE_KEYS = {"1": HOME, "7": HOME, "4": END, "8": END, "5": PAGE_UP, "6": PAGE_DOWN}


def parse_keys(data: bytes) -> tuple[list[str], bytes]:
    """Key names in ``data`` and the bytes of an unfinished escape sequence at its end.

    Understands CSI (``ESC [``) and SS3 (``ESC O``) sequences with or without modifiers
    (``ESC [1;5A``), as xterm, VT100 application mode and the Linux console send them.
    """
    keys: list[str] = []
    text = data.decode("latin-1")
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\x1b":
            if ch in _PLAIN_KEYS:
                keys.append(_PLAIN_KEYS[ch])
            i += 1
            continue
        if i + 1 >= len(text):
            return keys, data[i:]
        intro = text[i + 1]
        if intro == "O":
            if i + 2 >= len(text):
                return keys, data[i:]
            keys += [_FINAL_KEYS[text[i + 2]]] if text[i + 2] in _FINAL_KEYS else []
            i += 3
            continue
        if intro != "[":
            i += 1  # Alt-<key> or a lone ESC: ignored (the key itself is read next)
            continue
        j = i + 2
        while j < len(text) and not ("\x40" <= text[j] <= "\x7e"):
            j += 1
        if j >= len(text):
            return keys, data[i:]
        params, final = text[i + 2 : j], text[j]
        key = _TILDE_KEYS.get(params.split(";")[0]) if final == "~" else _FINAL_KEYS.get(final)
        if key:
            keys.append(key)
        i = j + 1
    return keys, b""


# -- the terminal -------------------------------------------------------------------------------


class Terminal:
    """stdin in cbreak mode (no echo, no line buffering; Ctrl-C still signals) and the
    signals that matter, each turned into a flag plus a byte on a wake-up pipe so that
    ``select`` returns at once. Everything is put back on exit."""

    def __init__(self, fd: int, *, keys: bool) -> None:
        self.fd = fd
        self.keys = keys
        self.quit = False
        self.resized = False
        self.suspend = False
        self._saved: list[Any] | None = None
        self._pending = b""
        self._old_handlers: dict[int, Any] = {}
        self._wake_r = self._wake_w = -1
        self._old_wakeup = -1

    # raw mode
    def raw(self) -> None:
        import termios

        if not self.keys:
            return
        if self._saved is None:
            self._saved = termios.tcgetattr(self.fd)
        mode = termios.tcgetattr(self.fd)
        mode[3] &= ~(termios.ECHO | termios.ICANON)  # lflag
        mode[6][termios.VMIN] = 1
        mode[6][termios.VTIME] = 0
        termios.tcsetattr(self.fd, termios.TCSANOW, mode)

    def restore(self) -> None:
        import termios

        if self._saved is not None:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    # signals
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGWINCH:
            self.resized = True
        elif signum == signal.SIGTSTP:
            self.suspend = True
        else:
            self.quit = True

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for signum in (
            signal.SIGINT,
            signal.SIGTERM,
            signal.SIGHUP,
            signal.SIGWINCH,
            signal.SIGTSTP,
        ):
            self._old_handlers[signum] = signal.signal(signum, self._on_signal)

    def uninstall(self) -> None:
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        self._old_handlers.clear()
        if self._wake_w >= 0:
            signal.set_wakeup_fd(self._old_wakeup)
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1

    def wait(self, timeout: float) -> list[str]:
        """Keys pressed within ``timeout`` seconds (empty when it passed, or a signal came)."""
        fds = [fd for fd in (self.fd if self.keys else -1, self._wake_r) if fd >= 0]
        if not fds:
            select.select([], [], [], timeout)
            return []
        ready, _, _ = select.select(fds, [], [], ESCAPE_WAIT if self._pending else timeout)
        if self._wake_r in ready:
            with contextlib.suppress(OSError):
                os.read(self._wake_r, 512)
        if self.keys and self.fd in ready:
            try:
                chunk = os.read(self.fd, 1024)
            except OSError:
                chunk = b""
            if not chunk:  # the terminal went away
                self.quit = True
                return []
            keys, self._pending = parse_keys(self._pending + chunk)
            return keys
        if self._pending and not ready:
            self._pending = b""  # a lone ESC: nothing to do
        return []

    def stop_self(self) -> None:
        """Suspend the process (Ctrl-Z) with the default action; returns on SIGCONT."""
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        try:
            os.kill(os.getpid(), signal.SIGTSTP)
        finally:
            signal.signal(signal.SIGTSTP, self._on_signal)


@contextlib.contextmanager
def _terminal(fd: int, *, keys: bool) -> Iterator[Terminal]:
    term = Terminal(fd, keys=keys)
    term.install()
    try:
        term.raw()
        yield term
    finally:
        term.restore()
        term.uninstall()


# -- the screen loop ----------------------------------------------------------------------------


def _touched(feed: ChangeFeed) -> set[str]:
    try:
        return {change.sid for change in feed.poll()}
    except StorageBusy:  # a reader is never meant to be busy; try again next tick
        return set()


def _apply_key(key: str, state: ViewState, frame: Frame) -> None:
    """Scroll keys move the event log within the bounds of the frame on screen; ``d``
    toggles the task descriptions."""
    page = max(1, frame.page)
    if key == UP:
        state.offset = max(0, state.offset - 1)
    elif key == DOWN:
        state.offset = min(frame.max_offset, state.offset + 1)
    elif key == PAGE_UP:
        state.offset = max(0, state.offset - page)
    elif key == PAGE_DOWN:
        state.offset = min(frame.max_offset, state.offset + page)
    elif key == HOME:
        state.offset = 0
    elif key == END:
        state.offset = frame.max_offset
    elif key == DESCRIPTIONS:
        state.descriptions = not state.descriptions


def _screen(watcher: Watcher, feed: ChangeFeed) -> int:
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
                    live.update(Group(*frame.lines), refresh=True)
                    dirty = False
                for key in term.wait(POLL_INTERVAL):
                    if key == QUIT:
                        term.quit = True
                        break
                    if key == REDRAW:
                        console.clear()
                    else:
                        _apply_key(key, state, frame)
                    dirty = True
                touched = _touched(feed)
                if touched:
                    shown, before = watcher.shown_sid, len(watcher.events)
                    if watcher.apply(touched):
                        if watcher.shown_sid != shown:
                            state.offset = 0
                        elif state.offset:  # scrolled back: keep the same events in view
                            state.offset += len(watcher.events) - before
                        snapshot = watcher.snapshot()
                        dirty = True
        finally:
            with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
                live.stop()
    return EXIT_OK


def run_monitor(db_path: str, directory: str, sid: str | None) -> int:
    """``np m [--session SID]``: the live monitor, or the view once when not a terminal."""
    store: Store | None = None
    feed: ChangeFeed | None = None
    try:
        store = Store(db_path)
        # rich draws nothing on a dumb terminal: treat it like a pipe
        interactive = sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
        if interactive:  # the feed first, so no commit falls between it and the first read
            feed = ChangeFeed(db_path)
        watcher = Watcher(store, directory, sid)
        watcher.load()
        if feed is None:
            from .view import plain_view

            sys.stdout.write(plain_view(watcher.snapshot()))
            sys.stdout.flush()
            return EXIT_OK
        return _screen(watcher, feed)
    finally:  # a StorageError goes up to the CLI's one error path (exit 3)
        if feed is not None:
            feed.close()
        if store is not None:
            store.close()
