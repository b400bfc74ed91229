"""The protocol to the letter under any timing, over raw pipes to a real ``np serve``.

A client may write its whole conversation at once, cancel a request at any moment, send
requests before ``initialize`` or after ``shutdown``, or die without closing the pipe.
Whatever the timing: every request read gets exactly one answer, a "cancelled" answer means
nothing was written, and what the answers say is what the database holds."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from serve_support import RawServer, check_reply, frame, server_env

CANCEL = "$/cancelRequest"


def command(msg_id: Any, name: str, arg: Any = None) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "workspace/executeCommand",
        "params": {"command": name, "arguments": [arg if arg is not None else {}]},
    }


def initialize(msg_id: Any, root: Path, pid: int | None = None) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "initialize",
        "params": {"processId": pid or os.getpid(), "rootUri": root.as_uri(), "capabilities": {}},
    }


def note(method: str, params: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params or {}}


def titles(db: Path) -> list[str]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT title FROM tasks ORDER BY created_seq")]
    except sqlite3.OperationalError:  # no schema: nothing was ever written
        return []
    finally:
        conn.close()


def sessions(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT dir FROM sessions")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def drain(server: RawServer, timeout: float = 60.0) -> tuple[int, dict[Any, list[dict[str, Any]]]]:
    """Wait for the process to end; every response it wrote, by id."""
    code = server.proc.wait(timeout)
    time.sleep(0.2)  # let the reader thread reach EOF
    by_id: dict[Any, list[dict[str, Any]]] = {}
    while not server.messages.empty():
        msg = server.messages.get()
        if "method" not in msg:
            by_id.setdefault(msg.get("id"), []).append(msg)
    return code, by_id


def dirs(tmp_path: Path, *names: str) -> list[Path]:
    out = []
    for name in names:
        (tmp_path / name).mkdir()
        out.append((tmp_path / name).resolve())
    return out


def test_a_whole_conversation_written_at_once(tmp_path: Path) -> None:
    """initialize, initialized, requests, shutdown, exit, EOF — all in one write. Every
    request read before ``exit`` is answered once; the lifecycle is kept by read order."""
    cwd, root, other = dirs(tmp_path, "cwd", "root", "other")
    db = tmp_path / "np.db"
    server = RawServer(server_env(db), cwd)
    adds = list(range(10, 30))
    script = [
        command(1, "np.session.start"),  # before initialize: -32002, not executed
        note("np/anything"),  # a notification before initialize is dropped
        initialize(2, root),
        note("initialized"),
        initialize(3, other),  # a second initialize: refused, the root stays
        command(4, "np.session.start"),
        command(5, "np.task.add", {"tasks": [{"title": "first"}]}),
        command(6, "np.plan"),  # pipelined right after a write: sees it
        *(command(i, "np.task.add", {"tasks": [{"title": f"t{i}"}]}) for i in adds),
        {"jsonrpc": "2.0", "id": 40, "method": "shutdown"},
        command(41, "np.task.add", {"tasks": [{"title": "after shutdown"}]}),  # refused
        {"jsonrpc": "2.0", "id": 42, "method": "shutdown"},  # refused too
        note("exit"),
        command(43, "np.task.add", {"tasks": [{"title": "after exit"}]}),  # never read
    ]
    server.send(b"".join(frame(m) for m in script))
    assert server.proc.stdin is not None
    server.proc.stdin.close()
    code, replies = drain(server)
    assert code == 0, server.err_text()
    assert sorted(replies, key=str) == sorted([1, 2, 3, 4, 5, 6, *adds, 40, 41, 42], key=str)
    assert all(len(r) == 1 for r in replies.values()), replies
    reply = {k: v[0] for k, v in replies.items()}
    check_reply(reply[1], -32002)
    assert "result" in reply[2]
    check_reply(reply[3], -32600)
    assert reply[4]["result"]["session"]["dir"] == str(root)
    # a read sees every write read before it (later ones may have landed too)
    assert [t["title"] for t in reply[6]["result"]["tasks"]][:1] == ["first"]
    assert all("result" in reply[i] for i in (5, *adds)), reply
    assert reply[40]["result"] is None
    for late in (41, 42):
        check_reply(reply[late], -32600)
        assert "shutting down" in reply[late]["error"]["message"]
    assert titles(db) == ["first", *(f"t{i}" for i in adds)]
    assert sessions(db) == [str(root)]  # nothing in cwd (before initialize) or other
    assert server.violations == []
    assert "Traceback" not in server.err_text(), server.err_text()


def test_exit_without_shutdown_still_answers_what_was_read(tmp_path: Path) -> None:
    (root,) = dirs(tmp_path, "root")
    db = tmp_path / "np.db"
    server = RawServer(server_env(db), root)
    script = [
        initialize(1, root),
        note("initialized"),
        command(2, "np.session.start"),
        *(command(i, "np.task.add", {"tasks": [{"title": f"t{i}"}]}) for i in range(3, 13)),
        note("exit"),
    ]
    server.send(b"".join(frame(m) for m in script))  # stdin stays open
    code, replies = drain(server)
    assert code == 1  # exit without shutdown (LSP)
    assert sorted(replies) == list(range(1, 13))
    assert all("result" in r[0] for r in replies.values())
    assert len(titles(db)) == 10


def test_before_initialize_nothing_runs(tmp_path: Path) -> None:
    """Requests before ``initialize`` get -32002 and run nothing, at any pace."""
    cwd, root = dirs(tmp_path, "cwd", "root")
    db = tmp_path / "np.db"
    with RawServer(server_env(db), cwd) as server:
        for name in ("np.session.start", "np.task.add", "np.session.list", "np.plan"):
            check_reply(server.command(name, {"tasks": [{"title": "x"}]}), -32002)
        check_reply(server.request("shutdown"), -32002)
        server.initialize(root)
        again = server.request("initialize", {"processId": None, "capabilities": {}})
        check_reply(again, -32600)
        assert "already initialized" in again["error"]["message"]
        started = server.command("np.session.start", {})
        assert started["result"]["session"]["dir"] == str(root)
    assert sessions(db) == [str(root)]


def test_cancel_never_reports_a_committed_write(tmp_path: Path) -> None:
    """``$/cancelRequest`` at any moment: -32800 only when nothing was written, else the
    result. A write already waiting for the lock is finished, not called cancelled."""
    (root,) = dirs(tmp_path, "root")
    db = tmp_path / "np.db"
    with RawServer(server_env(db, NP_BUSY_TIMEOUT="30"), root) as server:
        server.initialize(root)
        assert "result" in server.command("np.session.start", {})
        answered: dict[str, str] = {}
        for n, pause in enumerate([0, 0, 0, 0.001, 0.003, 0.01, 0.03, 0.1] * 3):
            msg_id = server.new_id()
            title = f"c{n}"
            server.send(frame(command(msg_id, "np.task.add", {"tasks": [{"title": title}]})))
            if pause:
                time.sleep(pause)
            server.send(frame(note(CANCEL, {"id": msg_id})))
            reply = server.response(msg_id)
            if "error" in reply:
                check_reply(reply, -32800)
                answered[title] = "cancelled"
            else:
                answered[title] = "added"
        written = set(titles(db))
        for title, outcome in answered.items():
            assert (title in written) == (outcome == "added"), (title, outcome)
        assert "cancelled" in answered.values()  # a cancel sent with its request wins

        # A write that has started (it waits for another process's lock) is finished and
        # answered with its result; one queued behind it is withdrawn.
        holder = sqlite3.connect(db, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            running, queued = server.new_id(), server.new_id()
            server.send(frame(command(running, "np.task.add", {"tasks": [{"title": "run"}]})))
            # np.plan is answered only once the write ahead of it is done or blocked on
            # the lock: its answer proves the write is running.
            assert "result" in server.command("np.plan", {})
            server.send(frame(command(queued, "np.task.add", {"tasks": [{"title": "queued"}]})))
            server.send(frame(note(CANCEL, {"id": running})))
            server.send(frame(note(CANCEL, {"id": queued})))
            check_reply(server.response(queued), -32800)
            time.sleep(0.3)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        reply = server.response(running)
        assert reply["result"]["added"], reply
        assert titles(db).count("run") == 1 and "queued" not in titles(db)
        # a cancel after the answer, or of an id never seen, changes nothing
        server.send(frame(note(CANCEL, {"id": running})))
        server.send(frame(note(CANCEL, {"id": "nobody"})))
        assert server.alive()
    assert "Traceback" not in server.err_text(), server.err_text()


def test_a_dead_client_process_stops_the_server(tmp_path: Path) -> None:
    """The editor dies without closing the pipe: ``processId`` is watched, a zombie
    counts as dead, and a pid the server cannot see is not watched at all."""
    root, other = dirs(tmp_path, "root", "other")
    editor = subprocess.Popen(["sleep", "120"])
    watched = RawServer(server_env(tmp_path / "a.db"), root)
    unseen = RawServer(server_env(tmp_path / "b.db"), other)
    try:
        reply = watched.request("initialize", initialize(0, root, editor.pid)["params"], 60)
        assert "result" in reply
        # a pid that exists nowhere (e.g. the editor runs in another PID namespace)
        gone = subprocess.Popen(["true"])
        gone.wait()
        gone_pid = gone.pid
        reply = unseen.request("initialize", initialize(0, other, gone_pid)["params"], 60)
        assert "result" in reply
        assert "result" in watched.command("np.session.start", {})
        editor.kill()  # not reaped: a zombie until editor.wait()
        code = watched.proc.wait(15)  # stdin is still open
        assert code == 0
        assert watched.proc.stdin is not None and not watched.proc.stdin.closed
        time.sleep(1.5)  # more than one poll
        assert unseen.alive()
    finally:
        editor.kill()
        editor.wait()
        for server in (watched, unseen):
            if server.proc.poll() is None:
                server.close()
    assert "processId" in watched.err_text() and "gone" in watched.err_text()
    assert "Traceback" not in watched.err_text() + unseen.err_text()


def test_exit_as_the_first_message(tmp_path: Path) -> None:
    """``exit`` is the one message honoured before ``initialize``: code 1 (no shutdown)."""
    (root,) = dirs(tmp_path, "root")
    server = RawServer(server_env(tmp_path / "np.db"), root)
    server.send(frame(command(1, "np.session.start")) + frame(note("exit")))
    code, replies = drain(server)
    assert code == 1
    check_reply(replies[1][0], -32002)
    assert sessions(tmp_path / "np.db") == []


def test_a_message_cut_off_by_eof_is_still_answered(tmp_path: Path) -> None:
    """stdin ends inside a frame: a whole document (Content-Length overstated) is carried
    out; a cut-off one is answered -32700 with its id when the id can be read."""
    (root,) = dirs(tmp_path, "root")
    db = tmp_path / "np.db"
    server = RawServer(server_env(db), root)
    whole = json.dumps(command(2, "np.session.start")).encode()
    cut = json.dumps(command(3, "np.task.add", {"tasks": [{"title": "x"}]})).encode()[:-9]
    server.send(
        frame(initialize(1, root)) + b"Content-Length: %d\r\n\r\n" % (len(whole) + 50) + whole
    )
    assert "result" in server.response(2, timeout=60)  # taken after a short stall
    server.send(b"Content-Length: %d\r\n\r\n" % (len(cut) + 9) + cut)
    assert server.proc.stdin is not None
    server.proc.stdin.close()
    code, replies = drain(server)
    assert code == 0
    check_reply(replies[3][0], -32700)
    assert titles(db) == []
