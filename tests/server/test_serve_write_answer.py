"""A write's ``np/didChange`` leaves ``np serve`` with the write's answer: the answer
first, then the notification, in one write to stdout, so the client is woken once per
write and learns of its own change no later than it learns the write's outcome. (The
server's 100 ms poll may find the commit first, in the moment between the commit and the
answer: then the notification comes just before the answer, on its own, and not again.)

SQLite only: on PostgreSQL the server hears of its own commit by LISTEN/NOTIFY, one trip
later, so that notification follows on its own (tests/server/test_serve_notifications.py
holds both engines to notifying every commit)."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_support import DID_CHANGE, frame, serve_command, server_env

_HEADER = re.compile(rb"Content-Length: (\d+)\r\n(?:[^\r\n]*\r\n)*?\r\n")


class Reads:
    """``np serve``'s stdout read straight from the pipe, one ``os.read`` at a time, so
    which messages came out of one write of the server's can be told apart."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buf = b""

    def messages(self, data: bytes) -> list[dict[str, Any]]:
        """The messages completed by ``data`` (a partial one stays buffered)."""
        self.buf += data
        out = []
        while (m := _HEADER.match(self.buf)) is not None:
            end = m.end() + int(m.group(1))
            if len(self.buf) < end:
                break
            out.append(json.loads(self.buf[m.end() : end]))
            self.buf = self.buf[end:]
        return out

    def until_answer(
        self, msg_id: int, timeout: float = 30.0
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Read until the answer to ``msg_id`` is complete: (the messages earlier reads
        completed, the messages the read completing the answer completed), in order."""
        deadline = time.monotonic() + timeout
        earlier: list[dict[str, Any]] = []
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no answer to {msg_id}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.fd, 1 << 20)
            assert chunk, "np serve closed its stdout"
            got = self.messages(chunk)
            if any(m.get("id") == msg_id for m in got):
                return earlier, got
            earlier += got


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Reads, Path]]:
    project = tmp_path / "project"
    project.mkdir()
    proc = subprocess.Popen(
        serve_command(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=server_env(tmp_path / "np.db"),
        cwd=str(project),
    )
    reads = Reads(proc)
    send(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": _init(project)})
    reads.until_answer(1)
    send(proc, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
    yield proc, reads, project
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(30) == 0


def _init(project: Path) -> dict[str, Any]:
    return {"processId": None, "rootUri": project.as_uri(), "capabilities": {}}


def send(proc: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(frame(message))
    proc.stdin.flush()


def command(msg_id: int, name: str, arg: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "workspace/executeCommand",
        "params": {"command": name, "arguments": [arg]},
    }


def test_each_write_answer_carries_its_did_change(
    server: tuple[subprocess.Popen[bytes], Reads, Path],
) -> None:
    proc, reads, project = server
    writes = [
        ("np.session.start", {}),
        ("np.goal.set", {"title": "Ship it", "description": "issue 19; server/lsp; keep the API"}),
        ("np.task.add", {"tasks": [{"title": "one"}]}),
        ("np.task.add", {"tasks": [{"title": "two"}]}),
        ("np.task.add", {"tasks": [{"title": "three"}]}),
    ]
    along = 0
    for msg_id, (name, arg) in enumerate(writes, 10):
        send(proc, command(msg_id, name, arg))
        earlier, got = reads.until_answer(msg_id)
        answer = next(i for i, m in enumerate(got) if m.get("id") == msg_id)
        assert "result" in got[answer], got[answer]
        session = got[answer]["result"]["session"]
        changes = [m["params"] for m in [*earlier, *got] if m.get("method") == DID_CHANGE]
        assert len(changes) == 1, f"{name}: {changes}"  # once, and no later than the answer
        assert changes[0]["sid"] == session["sid"]
        assert changes[0]["dir"] == os.path.realpath(project)
        if [m.get("method") for m in got[answer:]] == [None, DID_CHANGE]:
            along += 1  # right behind the answer, in the same write
    # The poll finds a commit before its answer is sent only by chance (a moment in 100 ms).
    assert along >= len(writes) - 1, f"{along} of {len(writes)} came with their answer"
    # A read changes nothing: its answer comes alone.
    send(proc, command(20, "np.plan", {}))
    earlier, got = reads.until_answer(20)
    assert [m.get("method") for m in [*earlier, *got]] == [None], got
