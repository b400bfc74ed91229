"""``np m`` for real: in a pseudo-terminal while other processes write, and piped.

The monitor runs as its own process on the slave side of a pty (made its controlling
terminal, with a fixed window size); the test reads the master side, strips the ANSI codes
and waits — generously — for what the screen should show after each CLI write.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import np_command

ANSI = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]"
)
ENTER_ALT, LEAVE_ALT, SHOW_CURSOR = b"\x1b[?1049h", b"\x1b[?1049l", b"\x1b[?25h"
WAIT = 15.0  # seconds: a generous bound for "appears within a second"

# Become the session leader's controlling terminal (the pty on fd 0), then run np: so
# Ctrl-C and window-size changes reach the monitor as signals, as in a real terminal.
CTTY_SHIM = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)


def np_argv() -> list[str]:
    return np_command()


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Terminal:
    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], rows: int, cols: int):
        self.master, self.slave = os.openpty()
        set_size(self.slave, rows, cols)
        self.attrs_before = termios.tcgetattr(self.slave)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CTTY_SHIM, *args],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            cwd=str(cwd),
            env=env,
            start_new_session=True,
        )
        self.raw = bytearray()
        self.mark = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            with self._lock:
                self.raw += chunk

    def output(self, since: int = 0) -> bytes:
        with self._lock:
            return bytes(self.raw[since:])

    def text(self, since: int = 0) -> str:
        return ANSI.sub(b"", self.output(since)).decode("utf-8", "replace")

    def set_mark(self) -> None:
        with self._lock:
            self.mark = len(self.raw)

    def wait_for(self, *needles: str) -> str:
        """Wait until everything in ``needles`` was drawn after the mark."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            text = self.text(self.mark)
            if all(n in text for n in needles):
                return text
            assert self.proc.poll() is None, f"np m exited: {self.text()[-2000:]}"
            time.sleep(0.05)
        pytest.fail(f"not on screen within {WAIT}s: {needles}\n--- screen ---\n{text[-3000:]}")

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        time.sleep(0.1)  # let the reader drain what the process wrote last
        self._stop.set()
        self._reader.join(5)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminal(np_env: dict[str, str], workdir: Path) -> Iterator[Callable[..., Terminal]]:
    opened: list[Terminal] = []

    def open_(*args: str, rows: int = 30, cols: int = 100) -> Terminal:
        env = {**np_env, "TERM": "xterm-256color"}
        for name in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
            env.pop(name, None)
        term = Terminal([*np_argv(), "m", *args], workdir, env, rows, cols)
        opened.append(term)
        return term

    yield open_
    for term in opened:
        term.close()


def left_alt_screen(out: bytes) -> bool:
    return ENTER_ALT in out and out.rfind(LEAVE_ALT) > out.rfind(ENTER_ALT)


def assert_restored(term: Terminal) -> None:
    deadline = time.monotonic() + WAIT  # the reader may still be draining the last bytes
    while not left_alt_screen(term.output()) and time.monotonic() < deadline:
        time.sleep(0.05)
    out = term.output()
    assert ENTER_ALT in out
    assert out.rfind(LEAVE_ALT) > out.rfind(ENTER_ALT), "the alternate screen was not left"
    assert out.rfind(SHOW_CURSOR) > out.rfind(ENTER_ALT), "the cursor was not shown again"
    assert termios.tcgetattr(term.slave) == term.attrs_before


def task_ids(run_np: Any) -> list[str]:
    return [t["id"] for t in run_np("t", "--json").json()["tasks"]]


def test_the_live_monitor_in_a_pseudo_terminal(
    terminal: Callable[..., Terminal], run_np: Any, workdir: Path
) -> None:
    term = terminal()
    term.wait_for("No active session in", "q quit")
    lflag = termios.tcgetattr(term.slave)[3]
    assert not lflag & termios.ECHO and not lflag & termios.ICANON  # keys, unechoed

    # a session starts in this directory: the monitor switches to it
    term.set_mark()
    assert run_np("s").code == 0
    term.wait_for("Goal: (not set yet)", "session started in", " active ")

    term.set_mark()
    assert run_np("g", "s", "-t", "Ship the monitor", "-d", "Issue 6 of the tracker").code == 0
    term.wait_for("Goal: Ship the monitor", "Issue 6 of the tracker", 'goal set: "Ship the')

    term.set_mark()
    r = run_np("t", "a", "-t", "Write the view", "-d", "Rich text, two panes", "-t", "Watch it")
    assert r.code == 0, r
    first, second = task_ids(run_np)
    term.wait_for(f"☐ {first} Write the view", f"☐ {second} Watch it", "0/2 completed")

    term.set_mark()
    r = run_np(
        "t",
        "u",
        "-i",
        first,
        "-s",
        "failed",
        "-i",
        second,
        "-s",
        "in_progress",
        "-r",
        "the pty said no",
    )
    assert r.code == 0, r
    term.wait_for(
        f"☒ {first} Write the view",
        f"⟳ {second} Watch it",
        "0/2 completed · 1 in progress · 1 failed",
        "agent: task",
        "☐ pending → ☒ failed — reason: the pty",
        "reason: the pty said no",  # under the failed task, in the plan
    )

    term.set_mark()  # d shows the task descriptions
    term.press(b"d")
    term.wait_for("    Rich text, two panes", "d descriptions (on)")

    term.set_mark()  # a narrower window: laid out again, with the short footer
    set_size(term.slave, 20, 60)
    term.wait_for("d descr. (on)")

    term.press(b"q")
    assert term.proc.wait(WAIT) == 0
    assert_restored(term)


def test_the_task_list_of_202_tasks_scrolls_with_tab_and_the_keys(
    terminal: Callable[..., Terminal], run_np: Any
) -> None:
    """Issue 18: with 202 tasks the monitor showed "… 186 more below" and its keys scrolled
    only the event log. Tab gives the keys to the task list; every task can be reached."""
    assert run_np("s").code == 0
    titles = [a for i in range(202) for a in ("-t", f"Task number {i}")]
    assert run_np("t", "a", *titles).code == 0
    ids = task_ids(run_np)
    term = terminal(rows=30, cols=100)
    term.wait_for(f"☐ {ids[0]} Task number 0", "more below", "scroll events · Tab tasks")
    assert f"{ids[-1]} Task number 201" not in term.text()

    term.set_mark()
    term.press(b"\t")  # the keys now scroll the task list
    term.wait_for("scroll tasks · Tab events")
    term.set_mark()
    term.press(b"\x1b[F")  # End
    term.wait_for(f"☐ {ids[-1]} Task number 201", "more above")
    term.set_mark()
    term.press(b"\x1b[5~")  # PgUp: the page before
    term.wait_for(f"☐ {ids[-20]} Task number 182")
    term.set_mark()
    term.press(b"\x1b[H")  # Home
    term.wait_for(f"☐ {ids[0]} Task number 0", "more below")
    term.set_mark()
    term.press(b"\x1b[Z")  # Shift-Tab: the keys scroll the events again
    term.wait_for("scroll events · Tab tasks")
    term.press(b"q")
    assert term.proc.wait(WAIT) == 0
    assert_restored(term)


@pytest.mark.parametrize("stop", ["Ctrl-C", "SIGTERM", "SIGHUP"])
def test_a_signal_stops_it_with_130_and_restores_the_terminal(
    terminal: Callable[..., Terminal], run_np: Any, stop: str
) -> None:
    """q quits (exit 0, above); Ctrl-C, SIGTERM and SIGHUP stop np m as they stop every
    verb: exit 130, as the README's exit table says, with the terminal restored."""
    assert run_np("s").code == 0
    term = terminal(rows=24, cols=80)
    term.wait_for("Goal: (not set yet)", "q quit")
    term.press(b"\x1b[B\x1b[6~\x1b[H")  # scrolling keys on a short log: harmless
    if stop == "Ctrl-C":
        term.press(b"\x03")
    else:
        term.proc.send_signal(getattr(signal, stop))
    assert term.proc.wait(WAIT) == 130
    assert_restored(term)


def test_session_flag_shows_an_archived_session(
    terminal: Callable[..., Terminal], run_np: Any, tmp_path: Path
) -> None:
    assert run_np("s").code == 0
    sid = run_np("p", "--json").json()["session"]["sid"]
    assert run_np("a").code == 0
    term = terminal("--session", sid, cols=160)
    term.wait_for(f"session {sid} · archived", "archived (read-only)", "session archived")
    term.press(b"q")
    assert term.proc.wait(WAIT) == 0


# -- not a terminal -----------------------------------------------------------------------------


def test_piped_prints_the_view_once(run_np: Any) -> None:
    assert run_np("s").code == 0
    assert run_np("g", "s", "-t", "Piped goal", "-d", "See issue 6.").code == 0
    assert run_np("t", "a", "-t", "Only task").code == 0
    (tid,) = task_ids(run_np)
    assert run_np("t", "u", "-i", tid, "-s", "cancelled", "-r", "not needed").code == 0
    r = run_np("m")
    assert r.code == 0, r
    assert "\x1b" not in r.out
    lines = r.out.splitlines()
    assert lines[0].startswith("np m · ")
    assert lines[0].endswith("· active")
    assert lines[2:4] == ["Goal: Piped goal", "See issue 6."]
    assert f"⊗ {tid} Only task" in lines
    assert "0/1 completed · 1 cancelled" in lines
    assert "Events, newest first (1–4 of 4):" in lines
    assert lines[-1].startswith("#1 ")
    assert any(
        line.endswith(f'task {tid} "Only task": ☐ pending → ⊗ cancelled — reason: not needed')
        for line in lines
    )


def test_piped_without_a_session_lists_the_others(
    run_np: Any, tmp_path: Path, workdir: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    assert run_np("s", cwd=other).code == 0
    r = run_np("m")
    assert r.code == 0, r
    assert f"No active session in {os.path.realpath(workdir)}" in r.out
    assert "Active sessions elsewhere (np ls):" in r.out
    assert str(os.path.realpath(other)) in r.out


def test_a_damaged_database_is_one_sentence_and_exit_3(run_np: Any, db_path: Path) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db_path.write_bytes(b"this is not a database at all" * 200)
    r = run_np("m")
    assert r.code == 3, r
    assert r.out == ""
    assert r.err.startswith("np: ") and r.err.count("\n") == 1
    assert "Traceback" not in r.err


def test_an_unknown_session_is_an_error(run_np: Any) -> None:
    r = run_np("m", "--session", "01JNOTASESSION000000000000")
    assert r.code == 2, r
    assert "np ls --all" in r.err
