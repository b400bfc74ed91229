"""Process lifecycle over raw pipes: shutdown/exit, stdin EOF, exit without shutdown,
requests after shutdown, a clean stdout, quiet logs and an idle server that sleeps."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from serve_support import RawServer, check_reply, server_env


def start(tmp_path: Path, name: str, **env: str) -> RawServer:
    project = tmp_path / name
    project.mkdir()
    server = RawServer(server_env(tmp_path / f"{name}.db", **env), project)
    server.initialize(project)
    return server


def start_many(tmp_path: Path, *names: str) -> list[RawServer]:
    with ThreadPoolExecutor(len(names)) as pool:  # each start costs about a second
        return list(pool.map(lambda n: start(tmp_path, n), names))


def test_shutdown_exit_eof_and_exit_without_shutdown(tmp_path: Path) -> None:
    polite, eof, rude = start_many(tmp_path, "polite", "eof", "rude")
    try:
        assert "result" in polite.command("np.session.start", {})
        reply = polite.request("shutdown")
        assert reply == {"jsonrpc": "2.0", "id": polite._next_id, "result": None}
        # after shutdown every request gets an error, not silence
        reply = polite.command("np.session.list", {})
        check_reply(reply, -32600)
        assert "shutting down" in reply["error"]["message"]
        # and exit ends the process with code 0
        polite.notify("exit")
        assert polite.proc.wait(10) == 0

        # stdin EOF (the client died) in the middle of a frame, just after a complete
        # write request: that request is carried out in full, and the code is 0
        assert "result" in eof.command("np.session.start", {})
        body = (
            b'{"jsonrpc":"2.0","id":77,"method":"workspace/executeCommand","params":'
            b'{"command":"np.task.add","arguments":[{"tasks":[{"title":"last words"}]}]}}'
        )
        eof.send(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        eof.send(b'Content-Length: 500\r\n\r\n{"jsonrpc":')
        assert eof.proc.stdin is not None
        eof.proc.stdin.close()
        assert eof.proc.wait(10) == 0
        conn = sqlite3.connect(tmp_path / "eof.db")
        assert [r[0] for r in conn.execute("SELECT title FROM tasks")] == ["last words"]
        conn.close()

        # exit without shutdown: LSP says code 1
        rude.notify("exit")
        assert rude.proc.wait(10) == 1
    finally:
        for server in (polite, eof, rude):
            if server.proc.poll() is None:
                server.proc.kill()
    for server in (polite, eof, rude):
        assert server.violations == [], server.violations
        assert "Traceback" not in server.err_text(), server.err_text()
