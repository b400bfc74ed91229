"""The terminal of ``np m``: cbreak mode, signals turned into flags and a wake-up pipe."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from .keys import parse_keys, parse_text

ESCAPE_WAIT = 0.05  # a lone ESC byte: wait this long for the rest of a sequence


# -- the terminal -------------------------------------------------------------------------------


class _ReadInterrupted(Exception):
    """A signal came while the keys were being read (see ``Terminal._on_signal``)."""


class Terminal:
    """stdin in cbreak mode (no echo, no line buffering; Ctrl-C still signals) and the
    signals that matter, each turned into a flag plus a byte on a wake-up pipe so that
    ``select`` returns at once. Everything is put back on exit."""

    def __init__(self, fd: int, *, keys: bool) -> None:
        self.fd = fd
        self.keys = keys
        self.quit = False
        self.stopped_by: int | None = None  # the signal that ended it (exit 130), not q
        self.resized = False
        self.suspend = False
        self.text = False  # an answer is being typed: keys are text (keys.parse_text)
        self._saved: list[Any] | None = None
        self._pending = b""
        self._reading = False  # in os.read of the keys: a signal ends the read
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
            if self.stopped_by is None:
                self.stopped_by = signum
        if self._reading:
            # Ctrl-C and Ctrl-Z flush the terminal's input: a read that select found
            # something for may now wait for a key that never comes. End it.
            self._reading = False
            raise _ReadInterrupted

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

    def wait(self, timeout: float, also: int | None = None) -> list[str]:
        """Keys pressed within ``timeout`` seconds (empty when it passed, or a signal came,
        or ``also`` (a socket: the change feed's) became readable)."""
        extra = -1 if also is None else also
        fds = [fd for fd in (self.fd if self.keys else -1, self._wake_r, extra) if fd >= 0]
        if not fds:
            select.select([], [], [], timeout)
            return []
        ready, _, _ = select.select(fds, [], [], ESCAPE_WAIT if self._pending else timeout)
        if self._wake_r in ready:
            with contextlib.suppress(OSError):
                os.read(self._wake_r, 512)
        if self.keys and self.fd in ready:
            try:
                self._reading = True
                try:
                    chunk = b"" if self.quit or self.suspend else os.read(self.fd, 1024)
                finally:
                    self._reading = False
            except _ReadInterrupted:
                return []
            except OSError:
                chunk = b""
            if not chunk and (self.quit or self.suspend):
                return []
            if not chunk:  # the terminal went away
                self.quit = True
                return []
            if self.text:  # an answer is being typed: the bytes are text
                self._pending = b""
                return parse_text(chunk)
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
