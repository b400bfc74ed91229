"""The frame limit, over the wire: the largest request np accepts fits, and a frame that
is really too large is answered with its own id (not ``"id": null``), so the client never
waits forever. One real ``np serve`` for the module: these frames are big."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from serve_support import RawServer, check_reply, server_env

from server.lsp.transport import MAX_BODY
from store.limits import BATCH_MAX, DESCRIPTION_MAX, TITLE_MAX


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    base = tmp_path_factory.mktemp("big")
    root = base / "p"
    root.mkdir()
    server = RawServer(server_env(base / "np.db"), root)
    server.initialize(root)
    assert "result" in server.command("np.session.start", {})
    yield server
    assert server.close() == 0
    assert server.violations == []


def send_raw(server: RawServer, body: bytes) -> None:
    server.send(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def add_request(msg_id: Any, tasks: list[dict[str, str]], id_last: bool = False) -> bytes:
    """JSON's default encoding (ASCII, \\uXXXX escapes), as most clients send it."""
    params = {"command": "np.task.add", "arguments": [{"tasks": tasks}]}
    if id_last:
        msg = {"jsonrpc": "2.0", "method": "workspace/executeCommand", "params": params}
        msg["id"] = msg_id
    else:
        msg = {"jsonrpc": "2.0", "id": msg_id, "method": "workspace/executeCommand"}
        msg["params"] = params
    return json.dumps(msg).encode()


def test_the_largest_legal_request_fits(big: RawServer) -> None:
    """500 tasks, titles of 300 and descriptions of 20,000 characters, each outside the
    BMP: 12 bytes apiece once escaped, about 122 MB in all."""
    face = "\U0001f600"
    tasks = [
        {"title": face * TITLE_MAX, "description": face * DESCRIPTION_MAX} for _ in range(BATCH_MAX)
    ]
    body = add_request(31, tasks)
    assert len(body) > 121_000_000
    send_raw(big, body)
    reply = big.response(31, timeout=300)
    assert len(reply["result"]["added"]) == BATCH_MAX, str(reply)[:300]
    assert reply["result"]["tasks"][-1]["description"] == face * DESCRIPTION_MAX
    assert big.alive()


@pytest.mark.parametrize("id_last", [False, True], ids=["id first", "id last"])
def test_a_frame_over_the_limit_is_answered_with_its_id(big: RawServer, id_last: bool) -> None:
    msg_id = "too-big-last" if id_last else 41
    body = add_request(msg_id, [{"title": "x", "description": "y" * (MAX_BODY + 10)}], id_last)
    assert len(body) > MAX_BODY
    send_raw(big, body)
    reply = big.response(msg_id, timeout=120)
    check_reply(reply, -32600)
    assert "too large" in reply["error"]["message"]
    assert big.alive()  # in sync afterwards
    plan = big.command("np.plan", {})["result"]
    assert all(t["title"] != "x" for t in plan["tasks"])


def test_an_unreadable_id_gets_id_null(big: RawServer) -> None:
    """No top-level id in either end of the frame (here: an array): id null."""
    body = b"[" + b'"x",' * (MAX_BODY // 4 + 10) + b'"x"]'
    send_raw(big, body)
    replies = big.exchange(b"")
    assert [(r["id"], r["error"]["code"]) for r in replies] == [(None, -32600)]
