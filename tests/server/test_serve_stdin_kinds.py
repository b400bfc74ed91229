"""``np serve`` reads its stdin on the event loop when the loop can watch it (a pipe, as
from every client) and with a thread of its own when it cannot (a regular file, or
``/dev/null``): every request read is answered either way, and EOF ends the server."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from serve_support import frame, serve_command, server_env


def answers(out: bytes) -> dict[Any, dict[str, Any]]:
    found = {}
    for m in re.finditer(rb"Content-Length: (\d+)\r\n(?:[^\r\n]*\r\n)*?\r\n", out):
        body = json.loads(out[m.end() : m.end() + int(m.group(1))])
        if "id" in body:
            found[body["id"]] = body
    return found


def conversation(project: Path) -> bytes:
    start = {"processId": None, "rootUri": project.as_uri(), "capabilities": {}}
    messages: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": start},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        *(
            {
                "jsonrpc": "2.0",
                "id": n,
                "method": "workspace/executeCommand",
                "params": {"command": name, "arguments": [arg]},
            }
            for n, name, arg in [
                (2, "np.session.start", {}),
                (3, "np.task.add", {"tasks": [{"title": "from a file"}]}),
                (4, "np.plan", {}),
            ]
        ),
        {"jsonrpc": "2.0", "id": 5, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]
    return b"".join(frame(m) for m in messages)


def test_stdin_from_a_regular_file(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    frames = tmp_path / "frames"
    frames.write_bytes(conversation(project))
    with frames.open("rb") as stdin:
        proc = subprocess.run(
            serve_command(),
            stdin=stdin,
            capture_output=True,
            env=server_env(tmp_path / "np.db"),
            cwd=str(project),
            timeout=60,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = answers(proc.stdout)
    assert sorted(got) == [1, 2, 3, 4, 5]
    assert all("result" in reply for reply in got.values()), got
    assert [t["title"] for t in got[4]["result"]["tasks"]] == ["from a file"]


def test_stdin_from_a_pipe_written_at_once(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    proc = subprocess.run(
        serve_command(),
        input=conversation(project),
        capture_output=True,
        env=server_env(tmp_path / "np.db"),
        cwd=str(project),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = answers(proc.stdout)
    assert sorted(got) == [1, 2, 3, 4, 5]
    assert [t["title"] for t in got[4]["result"]["tasks"]] == ["from a file"]


def test_stdin_from_dev_null_ends_at_once(tmp_path: Path) -> None:
    proc = subprocess.run(
        serve_command(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=server_env(tmp_path / "np.db"),
        cwd=str(tmp_path),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == b""
