"""np writes to a pipe, a FIFO or a character device it is given as an output path, and
never blocks reading one (the new user's finding: ``np export -o /dev/stdout | cat``,
``np export -o FIFO``, ``np serve``/``np mcp --log-file /dev/stderr`` with stderr a pipe
hung forever, because the guard against writing onto a database read the path first).

Real FIFOs and pipes, real subprocesses; the timeouts are far beyond the time a healthy run
takes and only turn a hang into a failure.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from tests.support import np_command

HANG = 30  # a run that does not end by then hangs


@pytest.fixture
def plan(run_np) -> None:
    assert run_np("s").code == 0
    assert run_np("t", "a", "-t", "one", "-t", "two").code == 0


def _np(
    args: list[str], np_env: dict[str, str], workdir: Path, **kw: object
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*np_command(), *args], cwd=workdir, env=np_env, stdin=subprocess.DEVNULL, **kw
    )  # type: ignore[call-overload]


def test_export_to_dev_stdout_when_stdout_is_a_pipe(plan, np_env, workdir: Path) -> None:
    proc = _np(["export", "-o", "/dev/stdout"], np_env, workdir, stdout=subprocess.PIPE)
    out, _ = proc.communicate(timeout=HANG)
    assert proc.returncode == 0
    assert b"one" in out and b"two" in out


@pytest.mark.parametrize("force", [False, True])
def test_export_into_a_fifo_with_a_reader(plan, np_env, workdir: Path, force: bool) -> None:
    fifo = workdir / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = _np(["export", "-o", str(fifo), *(["--force"] if force else [])], np_env, workdir)
    assert proc.wait(timeout=HANG) == 0
    reader.join(timeout=HANG)
    assert got and b"one" in got[0] and b"two" in got[0]
    assert fifo.is_fifo()  # written into, never replaced by a file


@pytest.mark.parametrize("program", ["serve", "mcp"])
def test_server_log_to_dev_stderr_when_stderr_is_a_pipe(
    plan, np_env, workdir: Path, program: str
) -> None:
    if program == "mcp":
        pytest.importorskip("mcp")
    # stdin at its end: a server that got past its log file ends at once.
    proc = _np([program, "--log-file", "/dev/stderr"], np_env, workdir, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=HANG)
    assert proc.returncode == 0, err
