"""Memory stays flat as history grows (issue 20, kind 8).

The commands that read a whole log — ``np m`` piped, ``np export`` as Markdown and as
JSON, ``np log -n ALL`` (and ``export -o FILE``, and with ``--json``) — stream it page by
page: the peak resident memory of the real process at ten times the events stays within
a bound of the peak at the smaller size (before streaming it grew about fivefold), on both
engines.
The same holds at the doors: ``np serve`` answers ``np.export`` and a whole ``np.events``
in one JSON-RPC message, encoded page by page into a temporary file (its length goes first).
``bench/memory.py`` measures 10k, 100k and 1M events for BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bench.common import peak_rss, seed_session
from bench.lspclient import RawLspClient
from tests.support import np_command

# Become the pty's controlling process, then run np (as tests/monitor/test_monitor_tty.py).
CTTY_SHIM = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)

SMALL, LARGE = 4_000, 40_000
BOUND = 1.25  # the larger log's peak, next to the smaller one's
COMMANDS = {
    "m": ["m"],
    "export": ["export"],
    "export json": ["export", "--format", "json"],
    "export -o": ["export", "-o", "{out}", "--force"],
    "log all": ["log", "-n", "{all}"],
    "log all --json": ["log", "-n", "{all}", "--json"],
    "export --json": ["export", "--json"],
}


def _peak(argv: list[str], cwd: Path, db: str) -> tuple[int, int]:
    """(peak RSS in kB, bytes written to stdout) of one real run."""
    env = {**os.environ, "NP_DB": db}
    env.pop("NP_DEBUG", None)
    rss, written, code, err = peak_rss(argv, cwd=cwd, env=env)
    assert code == 0, err
    return rss // 1024, written


@pytest.fixture
def two_logs(np_db: str, tmp_path: Path, engine: str) -> dict[int, tuple[str, Path]]:
    """Two sessions of 200 tasks, one with SMALL events and one with LARGE (on PostgreSQL
    both in the test's database; on SQLite each in its own file)."""
    out = {}
    for n in (SMALL, LARGE):
        db = np_db if engine == "postgresql" else str(tmp_path / f"np{n}.db")
        project = tmp_path / f"p{n}"
        seed_session(db, project, tasks=200, events=n)  # type: ignore[arg-type]  # a path or URL
        out[n] = (db, project)
    return out


def test_peak_memory_does_not_grow_with_the_log(two_logs, tmp_path: Path) -> None:
    for name, args in COMMANDS.items():
        found = {}
        for n, (db, project) in two_logs.items():
            argv = [
                *np_command(),
                *(
                    a.replace("{all}", str(n + 10)).replace("{out}", str(tmp_path / f"{n}.out"))
                    for a in args
                ),
            ]
            found[n] = _peak(argv, project, db)
        (small, small_out), (large, large_out) = found[SMALL], found[LARGE]
        if name not in ("m", "export -o"):
            assert large_out > 5 * small_out, (name, found)  # the whole log was written
        assert large <= small * BOUND, (name, found)
    assert (tmp_path / f"{LARGE}.out").stat().st_size > (tmp_path / f"{SMALL}.out").stat().st_size


def _live_monitor_peak(db: str, cwd: Path) -> int:
    """VmHWM (kB) of a live ``np m`` in a pseudo-terminal once its first screen is drawn."""
    import select
    import sys
    import time

    master, slave = os.openpty()
    env = {**os.environ, "NP_DB": db, "TERM": "xterm"}
    env.pop("NP_DEBUG", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", CTTY_SHIM, *np_command(), "m"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=str(cwd),
        env=env,
        start_new_session=True,
    )
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"Events" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                seen += os.read(master, 65536)
        assert b"Events" in seen, seen[-500:]
        status = Path(f"/proc/{proc.pid}/status").read_text()
        return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmHWM")))
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
        os.close(slave)


def test_the_live_monitor_keeps_a_bounded_log(two_logs) -> None:
    """``np m`` in a terminal keeps the newest events it can scroll through, not the whole
    log: its peak at ten times the events stays within the same bound."""
    peaks = {n: _live_monitor_peak(db, project) for n, (db, project) in two_logs.items()}
    assert peaks[LARGE] <= peaks[SMALL] * BOUND, peaks


DOOR_COMMANDS = {
    "np.export": ("np.export", {}),
    "np.export json": ("np.export", {"format": "json"}),
    "np.events": ("np.events", {}),
}


def _serve_peak(db: str, project: Path, command: str, arg: dict[str, object]) -> tuple[int, int]:
    """(peak RSS in kB, bytes of the result) of a real ``np serve`` answering one request."""
    env = {**os.environ, "NP_DB": db}
    env.pop("NP_DEBUG", None)
    client = RawLspClient([*np_command(), "serve"], env=env, cwd=project)
    try:
        assert "result" in client.initialize(project, name="memory")
        reply = client.execute(command, {"dir": str(project), **arg}, timeout=300)
        assert "result" in reply, reply
        status = Path(f"/proc/{client.proc.pid}/status").read_text()
        peak = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmHWM")))
        return peak, len(json.dumps(reply["result"]))
    finally:
        assert client.close() == 0


def test_np_serve_answers_a_whole_log_at_flat_memory(two_logs) -> None:
    for name, (command, arg) in DOOR_COMMANDS.items():
        found = {n: _serve_peak(db, project, command, arg) for n, (db, project) in two_logs.items()}
        (small, small_out), (large, large_out) = found[SMALL], found[LARGE]
        assert large_out > 5 * small_out, (name, found)  # the whole log was answered
        assert large <= small * BOUND, (name, found)
