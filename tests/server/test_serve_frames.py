"""Malformed frames and messages, written as raw bytes to one ``np serve``: each is
answered (JSON-RPC error) or skipped, and the server keeps answering afterwards.

The module's server runs with ``--log-file``, so its stderr must stay empty, and the
reader records any stdout byte that is not part of a well-formed LSP frame."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_support import RawServer, check_reply, frame, server_env


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    base = tmp_path_factory.mktemp("frames")
    project = base / "p"
    project.mkdir()
    log = base / "serve.log"
    server = RawServer(server_env(base / "np.db"), project, ("--log-file", str(log)))
    server.initialize(project)
    yield server
    assert server.close() == 0
    assert server.violations == [], server.violations
    assert server.err_text() == "", server.err_text()[-2000:]
    assert "Traceback" not in log.read_text()


def request(msg_id: Any, command: str = "np.session.list", arg: Any = None) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "workspace/executeCommand",
        "params": {"command": command, "arguments": [arg if arg is not None else {}]},
    }


def codes(replies: list[dict[str, Any]]) -> list[tuple[Any, int]]:
    """(id, error code) of each reply, after checking each error is clean."""
    out = []
    for reply in replies:
        assert "error" in reply, reply
        check_reply(reply, reply["error"]["code"])
        assert "id" in reply  # "id": null when the id could not be read
        out.append((reply["id"], reply["error"]["code"]))
    return sorted(out, key=str)


PARSE, INVALID, PARAMS = -32700, -32600, -32602

CASES: list[tuple[str, bytes, list[tuple[Any, int]]]] = [
    ("invalid json body", frame(b"{not json"), [(None, PARSE)]),
    # a body that does not parse is answered with its id when that can be read
    ("truncated json", frame(b'{"jsonrpc": "2.0", "id": 1, "meth'), [(1, PARSE)]),
    ("truncated before the id", frame(b'{"jsonrpc": "2.0", "method": "x", "i'), [(None, PARSE)]),
    ("empty body", b"Content-Length: 0\r\n\r\n", [(None, PARSE)]),
    ("invalid utf-8", frame(b'{"jsonrpc":"2.0","id":3,"method":"\xff\xfe"}'), [(3, PARSE)]),
    (
        "latin-1 in an argument, id last",
        frame(b'{"jsonrpc":"2.0","method":"x","params":{"t":"caf\xe9"},"id":"s"}'),
        [("s", PARSE)],
    ),
    ("deep nesting", frame(b"[" * 100_000), [(None, PARSE)]),
    ("a json array (batch)", frame([request(4)]), [(None, INVALID)]),
    ("an empty array", frame(b"[]"), [(None, INVALID)]),
    ("a number", frame(b"42"), [(None, INVALID)]),
    ("a string", frame(b'"hello"'), [(None, INVALID)]),
    ("null", frame(b"null"), [(None, INVALID)]),
    ("request without method", frame({"jsonrpc": "2.0", "id": 5}), [(5, INVALID)]),
    ("without jsonrpc", frame({"id": 6, "method": "shutdown"}), [(6, INVALID)]),
    ("jsonrpc 1.0", frame({**request(7), "jsonrpc": "1.0"}), [(7, INVALID)]),
    ("id is an object", frame({**request(0), "id": {"a": 1}}), [(None, INVALID)]),
    ("id is a float", frame({**request(0), "id": 1.5}), [(None, INVALID)]),
    ("id is a boolean", frame({**request(0), "id": True}), [(None, INVALID)]),
    ("method is a number", frame({"jsonrpc": "2.0", "id": 8, "method": 12}), [(8, INVALID)]),
    ("params is a string", frame({**request(9), "params": "x"}), [(9, PARAMS)]),
    (
        "executeCommand without command",
        frame({**request(10), "params": {"arguments": []}}),
        [(10, PARAMS)],
    ),
    (
        "initialize with mistyped params",
        frame({"jsonrpc": "2.0", "id": 11, "method": "initialize", "params": {"capabilities": 5}}),
        [(11, PARAMS)],
    ),
    (
        "unknown request method",
        frame({"jsonrpc": "2.0", "id": 12, "method": "np/nothing", "params": {}}),
        [(12, -32601)],
    ),
    ("unknown notification", frame({"jsonrpc": "2.0", "method": "np/nothing"}), []),
    (
        "unknown method, no params",
        frame({"jsonrpc": "2.0", "id": 13, "method": "x"}),
        [(13, -32601)],
    ),
    (
        "notification with mistyped params",
        frame({"jsonrpc": "2.0", "method": "initialized", "params": 5}),
        [],
    ),
    ("cancel of an unknown id", frame({"jsonrpc": "2.0", "method": "$/cancelRequest"}), []),
    ("response to nothing", frame({"jsonrpc": "2.0", "id": 99, "result": 1}), []),
    ("bad Content-Length", b"Content-Length: abc\r\n\r\n{}", [(None, PARSE)]),
    ("negative Content-Length", b"Content-Length: -5\r\n\r\n{}", [(None, PARSE)]),
    ("header without blank line", b'Content-Length: 7\r\n{"a":1}', []),
    ("blank lines only", b"\r\n\r\n\n\n", []),
    ("unknown headers only", b"X-Thing: 1\r\nContent-Type: text/plain\r\n\r\n", []),
    ("garbage line", b"hello server\n", []),
    ("garbage without newline", b"\x00\x01garbage\xff" * 10, []),
    ("a megabyte of garbage", b"x" * 1_000_000, []),
    ("binary noise", random.Random(7).randbytes(20_000).replace(b"\n", b" "), []),
    (
        "huge Content-Length is skipped, not awaited",
        b"Content-Length: 999999999999\r\n\r\n{}",
        [(None, INVALID)],
    ),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_input_is_answered_or_skipped(
    raw: RawServer, data: bytes, expected: list[tuple[Any, int]]
) -> None:
    assert codes(raw.exchange(data)) == sorted(expected, key=str)


def test_content_length_overstated_then_more_frames(raw: RawServer) -> None:
    body = json.dumps(request(21)).encode()
    replies = raw.exchange(b"Content-Length: %d\r\n\r\n" % (len(body) + 40) + body)
    assert [r["id"] for r in replies] == [21] and "result" in replies[0]


def test_content_length_overstated_with_nothing_after(raw: RawServer) -> None:
    body = json.dumps(request(22)).encode()
    raw.send(b"Content-Length: %d\r\n\r\n" % (len(body) + 100) + body)
    assert "result" in raw.response(22, timeout=5)  # after a short stall


def test_content_length_counted_in_characters_not_bytes(raw: RawServer) -> None:
    text = json.dumps(request(23, "np.plan", {"sid": "été ✓ " * 5}), ensure_ascii=False)
    body = text.encode()
    assert len(text) < len(body)
    replies = raw.exchange(b"Content-Length: %d\r\n\r\n" % len(text) + body)
    assert codes(replies) == [(23, 1007)]  # understood: no such session


def test_frames_split_byte_by_byte_and_batched(raw: RawServer) -> None:
    data = frame(request(24)) + frame(request(25)) + frame(request(26))
    for i in range(0, len(data), 7):
        raw.send(data[i : i + 7])
    assert all("result" in raw.response(n) for n in (24, 25, 26))
    batch = b"".join(frame(request(n)) for n in range(30, 60))
    raw.send(batch)
    assert all("result" in raw.response(n) for n in range(30, 60))


def test_garbage_between_good_frames(raw: RawServer) -> None:
    data = (
        frame(request(61))
        + b"\r\nnoise\x00\r\n"
        + frame(request(62))
        + b"Content-Length: x\r\n\r\n"
        + frame(request(63))
        + b"junk-without-newline"
        + frame(request(64))
    )
    replies = raw.exchange(data)
    assert sorted(r["id"] for r in replies if "result" in r) == [61, 62, 63, 64]
    assert codes([r for r in replies if "error" in r]) == [(None, PARSE)]


def test_a_cancelled_request_still_gets_a_response(raw: RawServer) -> None:
    raw.send(frame(request(70, "np.session.list", {"state": "all"})))
    raw.send(frame({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 70}}))
    reply = raw.response(70)
    assert "result" in reply or reply["error"]["code"] == -32800


def test_two_megabyte_strings_are_invalid_argument(raw: RawServer) -> None:
    big = "x" * 2_000_000
    for arg in ({"dir": big}, {"sid": big}, {"state": big}, {"format": big, "sid": "s"}):
        command = {"dir": "np.plan", "sid": "np.plan", "state": "np.session.list"}.get(
            next(iter(arg)), "np.export"
        )
        reply = raw.command(command, arg)
        check_reply(reply, 1007, "invalid_argument")
        assert len(json.dumps(reply)) < 5_000  # the 2 MB value is not echoed back
    assert raw.alive()


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")
def test_idle_server_uses_next_to_no_cpu(raw: RawServer) -> None:
    def cpu_seconds() -> float:
        fields = Path(f"/proc/{raw.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    time.sleep(0.2)
    before, t0 = cpu_seconds(), time.monotonic()
    time.sleep(1.5)
    used = (cpu_seconds() - before) / (time.monotonic() - t0)
    assert used < 0.03, f"idle server used {used:.1%} of a CPU"
