"""What every test suite shares to run np as a user does: the command that starts it.

``np_command()`` is the installed ``np`` console script next to this interpreter (what users
run), else ``python -m server.cli``. The CLI, server, monitor and reliability tests all use
this one definition.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

NP_BIN = Path(sys.executable).parent / "np"


def np_command() -> list[str]:
    """argv that runs np: ``[".venv/bin/np"]`` or ``[python, "-m", "server.cli"]``."""
    if NP_BIN.exists():
        return [str(NP_BIN)]
    return [sys.executable, "-m", "server.cli"]


def waits_in_sqlite(proc: subprocess.Popen[Any]) -> None:
    """Return once a thread of ``proc`` sleeps in SQLite's busy handler: the
    ``clock_nanosleep(CLOCK_REALTIME, 0, …)`` of its ``usleep`` (Linux x86-64 syscall 230;
    Python's own ``time.sleep`` sleeps on CLOCK_MONOTONIC with TIMER_ABSTIME), read from
    ``/proc/PID/task/*/syscall``. Fails if ``proc`` ends first."""
    import time

    import pytest

    while proc.poll() is None:
        time.sleep(0.01)  # a poll of /proc, not a wait for time to pass
        try:
            calls = [
                Path(f"/proc/{proc.pid}/task/{t}/syscall").read_text().split()[:3]
                for t in os.listdir(f"/proc/{proc.pid}/task")
            ]
        except OSError:
            continue
        if ["230", "0x0", "0x0"] in calls:
            return
    pytest.fail(f"np ended before it waited for the lock (exit {proc.returncode})")
