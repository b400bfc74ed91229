"""``np m`` in a real terminal (tmux) for issue 23: an open question shows under its task,
the ``a`` key answers it (a choice by its number, Enter sends) and the agent's next output
starts with that answer; the receipts under an operator's change turn from "not yet seen"
to "seen by agent" live, when the agent reads — not before."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import np_command

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
WAIT = 20.0  # seconds: a generous bound for "appears within a second or so"


class Tmux:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30
        )
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "np")

    def wait_for(self, text: str, absent: str | None = None) -> str:
        deadline = time.monotonic() + WAIT
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown and (absent is None or absent not in shown):
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{shown}")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(f"np-test-{uuid.uuid4().hex[:8]}")
    yield t
    t("kill-server")


def _np(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*np_command(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_np_m_answers_a_question_with_a_key_and_shows_receipts_live(
    tmux: Tmux, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = {**os.environ, "NP_DB": str(tmp_path / "np.db"), "NP_ACTOR": "agent"}
    env.pop("NP_DEBUG", None)
    assert _np(env, project, "s").returncode == 0
    _np(env, project, "t", "a", "-t", "Pick the database", "-t", "Write the schema")
    first = json.loads(_np(env, project, "--json", "t").stdout)["tasks"][0]["id"]
    assert _np(env, project, "t", "q", "-i", first, "-q", "Which DB?", "-o", "sqlite",
               "-o", "postgres").returncode == 0  # fmt: skip

    command = " ".join(shlex.quote(a) for a in [*np_command(), "--actor", "ana", "m"])
    tmux("new-session", "-d", "-s", "np", "-x", "120", "-y", "30", "-c", str(project),
         "env", f"NP_DB={env['NP_DB']}", "TERM=xterm-256color", "sh", "-c", command)  # fmt: skip
    tmux.wait_for("? agent asks: Which DB? [sqlite | postgres]")
    tmux.wait_for("a answer (1 open)")

    # Receipts: the operator's change is not seen by the agent until the agent reads.
    assert _np({**env, "NP_ACTOR": "ana"}, project, "t", "u", "-i", first, "-s",
               "in_progress").returncode == 0  # fmt: skip
    tmux.wait_for("not yet seen — agent")
    time.sleep(1.5)  # the monitor reads receipts about once a second: still unseen
    assert "seen by agent" not in tmux.screen()  # ana's change is the only one not the agent's
    assert "Changed by others" in _np(env, project, "p").stdout  # the agent's read
    shown = tmux.wait_for("seen by agent")
    assert "ana: task" in shown

    # The a key: the oldest open question; 2 picks "postgres"; Enter sends it.
    tmux("send-keys", "-t", "np", "a")
    tmux.wait_for(f"Answer {first} (Which DB?; 1=sqlite 2=postgres)")
    tmux("send-keys", "-t", "np", "2")
    tmux.wait_for("postgres▏ Enter send")
    tmux("send-keys", "-t", "np", "Enter")
    tmux.wait_for(f"Answered {first}", absent="? agent asks")
    out = _np(env, project, "p").stdout
    assert out.startswith(f"Answer from ana on {first}: postgres\n"), out
    assert "Answer from" not in _np(env, project, "p").stdout
    tmux("send-keys", "-t", "np", "q")


def test_np_m_typed_answer_and_escape(tmux: Tmux, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = {**os.environ, "NP_DB": str(tmp_path / "np.db"), "NP_ACTOR": "agent"}
    env.pop("NP_DEBUG", None)
    assert _np(env, project, "s").returncode == 0
    _np(env, project, "t", "a", "-t", "One")
    first = json.loads(_np(env, project, "--json", "t").stdout)["tasks"][0]["id"]
    _np(env, project, "t", "q", "-i", first, "-q", "Go ahead?")
    command = " ".join(shlex.quote(a) for a in [*np_command(), "--actor", "ana", "m"])
    tmux("new-session", "-d", "-s", "np", "-x", "100", "-y", "24", "-c", str(project),
         "env", f"NP_DB={env['NP_DB']}", "TERM=xterm-256color", "sh", "-c", command)  # fmt: skip
    tmux.wait_for("? agent asks: Go ahead?")
    tmux("send-keys", "-t", "np", "a")
    tmux.wait_for(f"Answer {first} (Go ahead?)")
    tmux("send-keys", "-t", "np", "-l", "nope")
    tmux("send-keys", "-t", "np", "Escape")
    tmux.wait_for("Answer cancelled; nothing was sent.")
    assert "? agent asks: Go ahead?" in tmux.screen()
    tmux("send-keys", "-t", "np", "a")
    tmux.wait_for(f"Answer {first}")
    tmux("send-keys", "-t", "np", "-l", "yes, go")
    tmux("send-keys", "-t", "np", "Enter")
    tmux.wait_for(f"Answered {first}")
    assert _np(env, project, "p").stdout.startswith(f"Answer from ana on {first}: yes, go\n")
    tmux("send-keys", "-t", "np", "q")
