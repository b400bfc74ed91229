"""The long-running doors when their standard output cannot carry the protocol (B7).

``np serve`` and ``np mcp`` answer on stdout only. Started with it closed (``>&-``), open
for reading only (``1</dev/null``) or full (``>/dev/full``), each says so in one sentence on
stderr and exits 4 (the README's "output could not be written"), never "unexpected internal
error … please report it", never a traceback, never exit 0 — and it runs nothing whose answer
could not be sent (a pipelined write stays unwritten). A closed stdin is a client that sends
nothing (exit 0), and a client closing its end of stdout mid-session is not an error.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import NpRunner
from tests.support import np_command

FULL = "/dev/full"
needs_dev_full = pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full here")
needs_mcp = pytest.mark.skipif(
    importlib.util.find_spec("mcp") is None, reason="the MCP extra is not installed"
)
DOORS = ["serve", pytest.param("mcp", marks=needs_mcp)]
TITLE = "must not be written"


def _lsp(*messages: dict[str, object]) -> bytes:
    out = b""
    for message in messages:
        body = json.dumps(message).encode()
        out += b"Content-Length: %d\r\n\r\n" % len(body) + body
    return out


def _conversation(door: str) -> bytes:
    """initialize, initialized and a write, pipelined (as a client may send them)."""
    if door == "serve":
        return _lsp(
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}},
            {"jsonrpc": "2.0", "method": "initialized", "params": {}},
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "workspace/executeCommand",
                "params": {"command": "np.task.add", "arguments": [{"tasks": [{"title": TITLE}]}]},
            },
        )
    lines = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "np_add", "arguments": {"tasks": [{"title": TITLE}]}},
        },
    ]
    return b"".join(json.dumps(m).encode() + b"\n" for m in lines)


def _door(
    door: str, env: dict[str, str], cwd: Path, redirect: str, stdin: bytes
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["sh", "-c", f'exec "$@" {redirect}', "sh", *np_command(), door],
        cwd=str(cwd),
        env=env,
        input=stdin,
        stderr=subprocess.PIPE,
        timeout=60,
    )


def _titles(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT title FROM tasks")]


def _one_sentence(err: bytes, door: str, what: str) -> None:
    text = err.decode()
    assert "Traceback" not in text and "internal error" not in text and "report" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith(f"np {door}: standard output {what}"), text
    assert "only channel to the client" in lines[0]


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(
    ("redirect", "what"), [(">&-", "is closed"), ("1</dev/null", "is open for reading only")]
)
def test_unusable_stdout_at_start_is_one_sentence_exit_4_and_nothing_run(
    run_np: NpRunner,
    np_env: dict[str, str],
    workdir: Path,
    db_path: Path,
    door: str,
    redirect: str,
    what: str,
) -> None:
    assert run_np("s").code == 0
    r = _door(door, np_env, workdir, redirect, _conversation(door))
    assert r.returncode == 4, r.stderr
    _one_sentence(r.stderr, door, what)
    assert b"nothing was read or run" in r.stderr
    assert TITLE not in _titles(db_path)


def _initialize_then_write(door: str) -> tuple[bytes, bytes]:
    """The conversation split where a client waits: initialize, then the rest."""
    whole = _conversation(door)
    if door == "serve":
        first = _lsp(
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}
        )
    else:
        first = whole.split(b"\n", 1)[0] + b"\n"
    return first, whole[len(first) :]


@needs_dev_full
@pytest.mark.parametrize("door", DOORS)
def test_full_stdout_stops_the_door_with_exit_4(
    run_np: NpRunner, np_env: dict[str, str], workdir: Path, db_path: Path, door: str
) -> None:
    """A client that waits for initialize's answer: the door stops on its own (stdin still
    open), says why, exits 4; what the client sends then is never run."""
    assert run_np("s").code == 0
    first, rest = _initialize_then_write(door)
    with open(FULL, "wb") as full:
        proc = subprocess.Popen(
            [*np_command(), door],
            cwd=str(workdir),
            env=np_env,
            stdin=subprocess.PIPE,
            stdout=full,
            stderr=subprocess.PIPE,
        )
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(first)
    proc.stdin.flush()
    try:
        code = proc.wait(timeout=30)  # stdin is still open: the door ends by itself
    finally:
        proc.kill()
    try:
        proc.stdin.write(rest)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    assert code == 4
    _one_sentence(proc.stderr.read(), door, "could not be written (No space left on device)")
    assert TITLE not in _titles(db_path)


@needs_dev_full
def test_full_stdout_runs_no_pipelined_command_over_json_rpc(
    run_np: NpRunner, np_env: dict[str, str], workdir: Path, db_path: Path
) -> None:
    """np serve writes each answer as it is made: once initialize's cannot be written,
    a command read with it is not run (its answer could not be sent)."""
    assert run_np("s").code == 0
    r = _door("serve", np_env, workdir, f">{FULL}", _conversation("serve"))
    assert r.returncode == 4, r.stderr
    _one_sentence(r.stderr, "serve", "could not be written (No space left on device)")
    assert TITLE not in _titles(db_path)


@pytest.mark.parametrize("door", DOORS)
def test_closed_stdin_is_a_client_that_sends_nothing(
    np_env: dict[str, str], workdir: Path, door: str
) -> None:
    r = subprocess.run(
        ["sh", "-c", 'exec "$@" <&-', "sh", *np_command(), door],
        cwd=str(workdir),
        env=np_env,
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"" and b"error" not in r.stderr.lower()


@pytest.mark.parametrize("door", DOORS)
def test_client_closing_its_end_of_stdout_is_not_an_error(
    run_np: NpRunner, np_env: dict[str, str], workdir: Path, door: str
) -> None:
    """The client reads a few bytes of the first answer, then closes the pipe."""
    assert run_np("s").code == 0
    proc = subprocess.Popen(
        [*np_command(), door],
        cwd=str(workdir),
        env=np_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(_conversation(door))
    proc.stdin.flush()
    assert proc.stdout.read(10)
    proc.stdout.close()
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    err = proc.stderr.read().decode()
    assert "Traceback" not in err and "internal error" not in err
