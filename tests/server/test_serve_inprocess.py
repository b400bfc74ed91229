"""The server in this process, on pipes: checks of its internals that a subprocess hides."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from serve_support import frame

from server.lsp.server import NpServer, create_server


class Piped:
    def __init__(self, server: NpServer, write: Any, thread: threading.Thread) -> None:
        self.server, self._write, self.thread = server, write, thread
        self.output = bytearray()

    def send(self, *messages: dict[str, Any]) -> None:
        self._write.write(b"".join(frame(m) for m in messages))
        self._write.flush()

    def replies(self) -> list[dict[str, Any]]:
        out, data = [], bytes(self.output)
        while data:
            head, sep, rest = data.partition(b"\r\n\r\n")
            if not sep or b"Content-Length: " not in head:
                break  # a header still arriving (the reader thread appends as we look)
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            if len(rest) < length:
                break  # a body still arriving
            msg = json.loads(rest[:length])
            if "method" not in msg:  # not a notification
                out.append(msg)
            data = rest[length:]
        return out


@contextmanager
def piped(tmp_path: Path) -> Iterator[Piped]:
    server = create_server(str(tmp_path / "np.db"), str(tmp_path))
    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    thread = threading.Thread(
        target=server.start_io, args=(os.fdopen(r_in, "rb"), os.fdopen(w_out, "wb")), daemon=True
    )
    thread.start()
    p = Piped(server, os.fdopen(w_in, "wb"), thread)

    def drain() -> None:
        while chunk := os.read(r_out, 1 << 20):
            p.output += chunk

    threading.Thread(target=drain, daemon=True).start()
    try:
        p.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}})
        yield p
    finally:
        p._write.close()  # EOF
        thread.join(10)
        server.close_db()
    assert not thread.is_alive()


def command(msg_id: int, name: str, arg: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "workspace/executeCommand",
        "params": {"command": name, "arguments": [arg]},
    }


def wait_for(pred: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_finished_requests_are_released(tmp_path: Path) -> None:
    """pygls 2.1.1 keeps every executeCommand's inner future (and its result) forever."""
    with piped(tmp_path) as p:
        p.send(*(command(i, "np.session.list", {}) for i in range(1, 201)))
        wait_for(lambda: len(p.replies()) == 201)
        assert p.server.protocol._request_futures == {}


def test_shutdown_finishes_work_in_flight_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    (tmp_path / "p").mkdir()
    with piped(tmp_path) as p:
        p.send(command(1, "np.session.start", {"dir": str(tmp_path / "p")}))
        tasks = {"dir": str(tmp_path / "p"), "tasks": [{"title": "t"}]}
        p.send(
            *(command(i, "np.task.add", tasks) for i in range(2, 40)),
            {"jsonrpc": "2.0", "id": 99, "method": "shutdown"},
        )
        wait_for(lambda: {r.get("id") for r in p.replies()} >= {1, *range(2, 40), 99})
    # in-flight work is finished, not cancelled, and all of it is answered
    assert all("result" in reply for reply in p.replies()), p.replies()
    noisy = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert noisy == [], [r.getMessage() for r in noisy]


def test_a_result_that_cannot_be_serialised_is_still_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pygls sends nothing at all for such a result; the client would wait forever."""
    from server.commands import COMMANDS, Command

    broken = Command("np.session.list", frozenset(), lambda ctx, a: {"when": object()}, False)
    monkeypatch.setitem(COMMANDS, "np.session.list", broken)
    with piped(tmp_path) as p:
        p.send(command(1, "np.session.list", {}))
        wait_for(lambda: any(r["id"] == 1 for r in p.replies()))
        p.send(command(2, "np.plan", "x"))
        wait_for(lambda: any(r["id"] == 2 for r in p.replies()))
    (reply,) = [r for r in p.replies() if r["id"] == 1]
    assert reply["error"]["code"] == -32603
    assert reply["error"]["data"] == {"kind": "internal_error"}


def test_requests_read_before_eof_are_carried_out_and_answered(tmp_path: Path) -> None:
    """``printf '<frames>' | np serve``: everything sent gets its answer."""
    (tmp_path / "p").mkdir()
    with piped(tmp_path) as p:
        p.send(command(1, "np.session.start", {"dir": str(tmp_path / "p")}))
        p.send(
            *(
                command(i, "np.task.add", {"dir": str(tmp_path / "p"), "tasks": [{"title": "t"}]})
                for i in range(2, 30)
            )
        )
    assert {r["id"] for r in p.replies()} == set(range(30))
    assert all("result" in r for r in p.replies())


def test_a_request_pygls_drops_is_answered_and_eof_still_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever makes pygls drop a request without answering or running it (simulated by
    replacing its private ``_handle_request`` for one id), the client gets -32603 for it and
    the drain at EOF does not wait for it (``piped`` requires the server to end in 10 s)."""
    from server.lsp.protocol import NpProtocol

    real = NpProtocol._handle_request

    def dropping(self: NpProtocol, msg_id: Any, method: str, params: Any) -> None:
        if msg_id != 5:
            real(self, msg_id, method, params)

    monkeypatch.setattr(NpProtocol, "_handle_request", dropping)
    with piped(tmp_path) as p:
        p.send(command(5, "np.session.list", {}), command(6, "np.session.list", {}))
        wait_for(lambda: {r["id"] for r in p.replies()} >= {5, 6})
    by_id = {r["id"]: r for r in p.replies()}
    assert by_id[5]["error"]["code"] == -32603
    assert by_id[5]["error"]["data"] == {"kind": "internal_error"}
    assert "result" in by_id[6]


def test_a_request_whose_handler_ends_unanswered_does_not_hold_the_drain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler that finishes but whose answer is lost (simulated: pygls' private
    ``_send_handler_result`` swallowed for one id) is answered -32603 by the drain within
    a few seconds, and the process ends, instead of the drain's 2 x 60 s bound."""
    from server.lsp.protocol import NpProtocol

    real = NpProtocol._send_handler_result

    def losing(self: NpProtocol, future: Any, *, msg_id: Any) -> None:
        if msg_id != 5:
            real(self, future, msg_id=msg_id)

    monkeypatch.setattr(NpProtocol, "_send_handler_result", losing)
    started = time.monotonic()
    with piped(tmp_path) as p:
        p.send(command(5, "np.session.list", {}), command(6, "np.session.list", {}))
        wait_for(lambda: any(r["id"] == 6 for r in p.replies()))
        assert p.server.protocol.inflight == {5: "workspace/executeCommand"}
    assert time.monotonic() - started < 10
    by_id = {r["id"]: r for r in p.replies()}
    assert by_id[5]["error"]["code"] == -32603
    assert "unknown" in by_id[5]["error"]["message"]
