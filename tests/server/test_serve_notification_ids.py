"""A notification method sent *with an id* over a real ``np serve`` (finding F5).

pygls structures such a message as the notification and drops the id: the client waits
forever for its answer, and the server, which waits at EOF for every request it read to be
answered, did not exit. np answers each with -32600 ("… is a notification; send it without
an id") and does not act on it. A message carrying both a method and a result/error (which
pygls took for a response and dropped) is the same kind and gets -32600 too.
"""

from __future__ import annotations

import queue
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

from lsprotocol import types
from serve_support import RawServer, check_reply, frame, server_env

# Every notification of the LSP 3.17 meta-model (lsprotocol), both directions, with params
# that fit where np has a handler, so that acting on one would be visible.
NOTIFICATIONS: dict[str, Any] = {
    "$/cancelRequest": {"id": 424242},
    "$/logTrace": {"message": "x"},
    "$/progress": {"token": 1, "value": {}},
    "$/setTrace": {"value": "off"},
    "exit": None,
    "initialized": {},
    "notebookDocument/didChange": {},
    "notebookDocument/didClose": {},
    "notebookDocument/didOpen": {},
    "notebookDocument/didSave": {},
    "telemetry/event": {},
    "textDocument/didChange": {},
    "textDocument/didClose": {},
    "textDocument/didOpen": {},
    "textDocument/didSave": {},
    "textDocument/publishDiagnostics": {},
    "textDocument/willSave": {},
    "window/logMessage": {"type": 3, "message": "x"},
    "window/showMessage": {"type": 3, "message": "x"},
    "window/workDoneProgress/cancel": {"token": 1},
    "workspace/didChangeConfiguration": {"settings": {}},
    "workspace/didChangeWatchedFiles": {"changes": []},
    "workspace/didChangeWorkspaceFolders": {"event": {"added": [], "removed": []}},
    "workspace/didCreateFiles": {"files": []},
    "workspace/didDeleteFiles": {"files": []},
    "workspace/didRenameFiles": {"files": []},
}


def test_the_list_covers_every_lsp_notification() -> None:
    """The test below must not miss a notification a newer lsprotocol adds."""
    from server.lsp.protocol import NOTIFICATIONS as SERVER_SIDE

    assert set(NOTIFICATIONS) == set(SERVER_SIDE)
    assert {types.EXIT, types.INITIALIZED, types.CANCEL_REQUEST, types.SET_TRACE} <= SERVER_SIDE


def start(tmp_path: Path, name: str = "proj", **env: str) -> tuple[RawServer, Path]:
    project = tmp_path / name
    project.mkdir()
    server = RawServer(server_env(tmp_path / "np.db", **env), project)
    server.initialize(project)
    return server, project


def msg(msg_id: Any, method: str, params: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        out["params"] = params
    return out


def eof_exit(server: RawServer, timeout: float = 15.0) -> int:
    """Close stdin; the exit code (the server must end by itself)."""
    assert server.proc.stdin is not None
    server.proc.stdin.close()
    try:
        return server.proc.wait(timeout)
    except Exception:
        server.proc.kill()
        server.proc.wait()
        raise AssertionError(f"np serve did not exit {timeout} s after EOF") from None


def more_replies(server: RawServer) -> Counter[Any]:
    """After the process ended: responses not yet taken with ``response`` (by id). Every
    id having been taken once, anything here is a second answer."""
    got: Counter[Any] = Counter(server._pending)
    time.sleep(0.2)  # the reader thread finishes the last frames
    while True:
        try:
            m = server.messages.get_nowait()
        except queue.Empty:
            return got
        if "method" not in m:
            got[m.get("id")] += 1


def test_every_notification_sent_with_an_id_is_answered_once_then_eof_exits_0(
    tmp_path: Path,
) -> None:
    server, _ = start(tmp_path)
    ids = {method: f"n{i}" for i, method in enumerate(sorted(NOTIFICATIONS))}
    # all at once, with a real request in the middle and one after
    frames = [frame(msg(ids[m], m, NOTIFICATIONS[m])) for m in sorted(NOTIFICATIONS)]
    frames.insert(3, frame(msg("mid", "workspace/executeCommand", {"command": "np.session.start"})))
    frames.append(frame(msg("last", "workspace/executeCommand", {"command": "np.plan"})))
    server.send(b"".join(frames))
    for method, msg_id in ids.items():
        reply = server.response(msg_id, timeout=10)
        check_reply(reply, -32600)
        message = reply["error"]["message"]
        assert message.startswith(f"{method} is a notification; send it without an id"), message
    assert "result" in server.response("mid")
    assert "result" in server.response("last")  # still in sync, not shut down, not exited
    assert server.proc.poll() is None  # "exit" with an id did not end the process
    assert eof_exit(server) == 0
    assert more_replies(server) == Counter()


def test_a_notification_with_an_id_is_not_acted_on(tmp_path: Path) -> None:
    """``workspace/didChangeWorkspaceFolders`` with an id used to re-root the server
    (unanswered); refused, the workspace stays as ``initialize`` set it."""
    server, project = start(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    try:
        event = {"added": [{"uri": other.as_uri(), "name": "other"}], "removed": []}
        reply = server.request("workspace/didChangeWorkspaceFolders", {"event": event}, 10)
        check_reply(reply, -32600)
        started = server.command("np.session.start", {})
        assert started["result"]["session"]["dir"] == str(project), started
    finally:
        server.close()


def test_cancel_request_with_an_id_does_not_withdraw_the_command(tmp_path: Path) -> None:
    """A ``$/cancelRequest`` sent as a request used to withdraw a queued write (answered
    -32800, nothing written) and leave itself unanswered."""
    server, _ = start(tmp_path, NP_BUSY_TIMEOUT="20")
    try:
        assert "result" in server.command("np.session.start", {})
        holder = sqlite3.connect(tmp_path / "np.db", isolation_level=None, timeout=10)
        holder.execute("BEGIN IMMEDIATE")  # the write below waits for this lock
        try:
            add = {"command": "np.task.add", "arguments": [{"tasks": [{"title": "keep me"}]}]}
            server.send(frame(msg(6, "workspace/executeCommand", add)))
            time.sleep(0.5)
            server.send(frame(msg(7, "$/cancelRequest", {"id": 6})))
            check_reply(server.response(7, timeout=10), -32600)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        reply = server.response(6, timeout=30)
        assert "result" in reply, reply
        assert [t["title"] for t in reply["result"]["tasks"]] == ["keep me"]
    finally:
        assert server.close() == 0


def test_exit_with_an_id_is_refused_then_a_real_exit_ends_the_process(tmp_path: Path) -> None:
    server, _ = start(tmp_path)
    assert server.request("shutdown")["result"] is None
    reply = server.request("exit", timeout=10)
    check_reply(reply, -32600)
    assert "exit is a notification" in reply["error"]["message"]
    assert server.proc.poll() is None
    server.notify("exit")
    assert server.proc.wait(15) == 0


def test_a_whole_conversation_written_at_once_with_odd_ids(tmp_path: Path) -> None:
    """initialize, ``initialized`` with an id, a write, ``$/setTrace`` with an id,
    shutdown, ``exit`` with an id, then EOF: every id answered exactly once, exit 0."""
    project = tmp_path / "p"
    project.mkdir()
    server = RawServer(server_env(tmp_path / "np.db"), project)
    start_cmd = {"command": "np.session.start"}
    conversation = [
        msg(1, "initialize", {"processId": None, "capabilities": {}, "rootUri": project.as_uri()}),
        msg(2, "initialized", {}),
        msg(3, "workspace/executeCommand", start_cmd),
        msg(4, "$/setTrace", {"value": "verbose"}),
        msg(5, "workspace/executeCommand", {"command": "np.plan"}),
        msg(6, "shutdown"),
        msg(7, "exit"),
    ]
    server.send(b"".join(frame(m) for m in conversation))
    for msg_id in (2, 4, 7):
        check_reply(server.response(msg_id, timeout=15), -32600)
    for msg_id in (1, 3, 5):
        assert "result" in server.response(msg_id, timeout=15)
    assert server.response(6)["result"] is None
    assert eof_exit(server) == 0
    assert more_replies(server) == Counter()


def test_a_message_with_a_method_and_a_result_or_error_is_answered(tmp_path: Path) -> None:
    """pygls took these for responses to requests of its own and dropped them."""
    server, _ = start(tmp_path)
    cmd = {"command": "np.session.start"}
    both = [
        {**msg(1, "workspace/executeCommand", cmd), "error": {"code": 1, "message": "x"}},
        {**msg(2, "workspace/executeCommand", cmd), "result": None},
        {**msg(3, "initialized", {}), "result": 1},
    ]
    server.send(b"".join(frame(m) for m in both))
    for msg_id in (1, 2, 3):
        check_reply(server.response(msg_id, timeout=10), -32600)
    # nothing was run: no session was started
    assert server.command("np.session.list", {})["result"]["sessions"] == []
    assert eof_exit(server) == 0


def test_a_refused_message_never_settles_a_request_in_flight_under_its_id(
    tmp_path: Path,
) -> None:
    """Id 6 is a write waiting for a lock held elsewhere when a notification with id 6 and
    another request with id 6 arrive, then stdin closes: both are refused (not run), and
    the drain still waits for the write and sends its answer before exiting 0."""
    server, _ = start(tmp_path, NP_BUSY_TIMEOUT="20")
    assert "result" in server.command("np.session.start", {})
    holder = sqlite3.connect(tmp_path / "np.db", isolation_level=None, timeout=10)
    holder.execute("BEGIN IMMEDIATE")
    try:
        add = {"command": "np.task.add", "arguments": [{"tasks": [{"title": "once"}]}]}
        server.send(frame(msg(6, "workspace/executeCommand", add)))
        time.sleep(0.5)
        server.send(frame(msg(6, "initialized", {})))
        server.send(frame(msg(6, "workspace/executeCommand", add)))
        refusals = [server.response(6, timeout=10), server.response(6, timeout=10)]
        assert [r["error"]["code"] for r in refusals] == [-32600, -32600], refusals
        assert "already used by a request in flight" in refusals[1]["error"]["message"]
        assert server.proc.stdin is not None
        server.proc.stdin.close()
        time.sleep(1.0)
        assert server.proc.poll() is None  # still waiting for the write, not gone
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert server.proc.wait(30) == 0
    reply = server.response(6, timeout=5)
    assert [t["title"] for t in reply["result"]["tasks"]] == ["once"], reply
    assert more_replies(server) == Counter()
    conn = sqlite3.connect(tmp_path / "np.db")
    assert [r[0] for r in conn.execute("SELECT title FROM tasks")] == ["once"]
    conn.close()
