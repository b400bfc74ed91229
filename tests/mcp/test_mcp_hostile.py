"""Hostile input over MCP, sent as raw bytes to a real ``np mcp``: every request that carries
an id is answered (a result, an ``isError`` result or a JSON-RPC error), the server stays
alive, and a rejected call leaves the database exactly as it was. A Hypothesis fuzz drives
the tools' arguments; fixed cases cover framing and protocol abuse in both generations."""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp_support import failure, np_command

TOOLS = ["np_start", "np_resume", "np_plan", "np_goal", "np_add", "np_update", "np_edit"]
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "raw-fuzz", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


class RawMcp:
    """``np mcp`` over stdio with newline-delimited JSON written by hand."""

    def __init__(self, db: Path, project: Path, *, modern: bool = False) -> None:
        env = {**os.environ, "NP_DB": str(db)}
        env.pop("NP_DEBUG", None)
        self.modern = modern
        self.proc = subprocess.Popen(
            [*np_command(), "mcp", "-C", str(project)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self.garbage: list[bytes] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        if not modern:
            reply = self.request(
                "initialize",
                {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "raw-fuzz", "version": "1"},
                },
            )
            assert "result" in reply, reply
            self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                self.garbage.append(line)
                continue
            if isinstance(message, dict) and "id" in message:
                self.replies.put(message)

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for _ in self.proc.stderr:
            pass

    def write(self, raw: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(raw)
        self.proc.stdin.flush()

    def send(self, message: object) -> None:
        self.write(json.dumps(message).encode() + b"\n")

    def wait(self, request_id: object, timeout: float = 30) -> dict[str, Any]:
        while True:
            reply = self.replies.get(timeout=timeout)
            if reply.get("id") == request_id:
                return reply

    def request(self, method: str, params: Any = None, *, meta: bool = True) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        if self.modern and meta and isinstance(params, dict):
            params["_meta"] = {**MODERN_META, **params.get("_meta", {})}
        self.send(message)
        return self.wait(self.next_id)

    def call(self, tool: str, arguments: Any) -> dict[str, Any]:
        return self.request("tools/call", {"name": tool, "arguments": arguments})

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


def snapshot(db: Path) -> list[Any]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [
            conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("sessions", "goals", "tasks", "events")
        ]
    finally:
        conn.close()


def tool_result(reply: dict[str, Any]) -> tuple[bool, str] | None:
    """``(is_error, text)`` of a tools/call result, or ``None`` for a JSON-RPC error."""
    if "error" in reply:
        assert isinstance(reply["error"]["code"], int) and reply["error"]["message"], reply
        return None
    result = reply["result"]
    assert "structuredContent" not in result, result
    (block,) = result["content"]
    assert block["type"] == "text", block
    return bool(result.get("isError")), block["text"]


class Fuzz:
    def __init__(self, server: RawMcp, db: Path, project: Path, task: str) -> None:
        self.server, self.db, self.project, self.task = server, db, project, task


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    base = tmp_path_factory.mktemp("mcp-fuzz")
    project, db = base / "p", base / "np.db"
    (project / "sub").mkdir(parents=True)
    server = RawMcp(db, project)
    assert tool_result(server.call("np_start", {})) is not None
    server.call("np_goal", {"title": "g", "description": "d"})
    added = tool_result(server.call("np_add", {"tasks": [{"title": "t"}]}))
    assert added is not None and not added[0]
    task = added[1].split("☐ ", 1)[1][:6]
    yield Fuzz(server, db, project, task)
    assert server.proc.poll() is None, "np mcp died"
    assert server.close() == 0
    assert server.garbage == [], "np mcp wrote something that is not JSON to stdout"


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def arguments(fuzz: Fuzz) -> st.SearchStrategy[Any]:
    status = st.sampled_from(["pending", "completed", "failed", "cancelled", "done", "", "x"])
    ids = st.sampled_from([fuzz.task, fuzz.task.upper(), "zz9", ""]) | st.text(max_size=8)
    text = st.text(max_size=30) | st.sampled_from(["", " ", "a\x00b", "x" * 301])
    update = st.fixed_dictionaries({"id": ids, "status": status}, optional={"reason": text})
    plausible = {
        "dir": st.sampled_from([str(fuzz.project), str(fuzz.project / "sub"), "", "\x00", "rel"]),
        "status": st.lists(status, max_size=3) | json_values,
        "title": text | json_values,
        "description": text,
        "reason": text | st.none(),
        "id": ids | json_values,
        "tasks": st.lists(
            st.fixed_dictionaries({"title": text}, optional={"description": text}), max_size=3
        )
        | json_values,
        "updates": st.lists(update, max_size=3) | json_values,
    }
    keys = st.sampled_from([*plausible, "bogus"])
    obj = st.dictionaries(keys, st.just(None), max_size=4).flatmap(
        lambda d: st.fixed_dictionaries(
            {k: plausible.get(k, json_values) for k in d},
        )
    )
    return obj | json_values


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzzed_tool_arguments_are_answered(fuzz: Fuzz, data: st.DataObject) -> None:
    tool = data.draw(st.sampled_from(TOOLS))
    args = data.draw(arguments(fuzz))
    before = snapshot(fuzz.db)
    reply = fuzz.server.call(tool, args)
    outcome = tool_result(reply)
    if outcome is None or outcome[0]:  # rejected: nothing written
        assert snapshot(fuzz.db) == before, (tool, args, reply)
        if outcome is not None:
            kind, _ = failure(outcome[1])
            assert kind.isidentifier() and "Traceback" not in outcome[1], outcome


@pytest.mark.parametrize("modern", [False, True], ids=["handshake", "stateless"])
def test_protocol_abuse_is_answered(tmp_path: Path, modern: bool) -> None:
    project, db = tmp_path / "p", tmp_path / "np.db"
    project.mkdir()
    server = RawMcp(db, project, modern=modern)
    try:
        start = tool_result(server.call("np_start", {}))
        assert start is not None and not start[0], start
        before = snapshot(db)
        # Not JSON, a bare array, a request without a method: the stream stays in sync.
        server.write(b"this is not json\n")
        server.write(b"[1, 2, 3]\n")
        server.send({"jsonrpc": "2.0", "id": "no-method"})
        for params in (
            {"name": "np_plan", "arguments": ["not", "an", "object"]},
            {"name": "np_plan", "arguments": "text"},
            {"name": 7},
            {"arguments": {}},
            {"name": "np_archive", "arguments": {}},
            {"name": "np_plan\u0000", "arguments": {}},
        ):
            reply = server.request("tools/call", params)
            assert "error" in reply or reply["result"].get("isError"), (params, reply)
        assert "error" in server.request("tools/call", None, meta=False)
        assert "error" in server.request("no/such/method", {})
        # A 5 MB description: refused with the limit, nothing written, still answering.
        huge = "x" * 5_000_000
        big = tool_result(server.call("np_add", {"tasks": [{"title": "t", "description": huge}]}))
        assert big is not None and big[0] and big[1].startswith("Failed (invalid_argument): "), big
        assert snapshot(db) == before
        # A batch with one bad item writes none of them.
        batch = [{"title": f"t{n}"} for n in range(5)] + [{"title": ""}]
        partial = tool_result(server.call("np_goal", {"title": "g", "description": "d"}))
        assert partial is not None and not partial[0]
        before = snapshot(db)
        bad = tool_result(server.call("np_add", {"tasks": batch}))
        assert bad is not None and bad[0] and "task 6" in bad[1], bad
        assert snapshot(db) == before
        plan = tool_result(server.call("np_plan", {}))
        assert plan is not None and not plan[0] and "(no tasks yet)" in plan[1], plan
    finally:
        assert server.proc.poll() is None, "np mcp died"
        assert server.close() == 0
    assert server.garbage == []


@pytest.mark.parametrize("modern", [False, True], ids=["handshake", "stateless"])
def test_end_of_input_answers_every_request(tmp_path: Path, modern: bool) -> None:
    """A client that writes its requests and closes its end at once still reads an answer
    to each, and every write it was told succeeded is in the database (the SDK alone would
    cancel them and answer "Connection closed", even for a committed write)."""
    project, db = tmp_path / "p", tmp_path / "np.db"
    project.mkdir()
    lines: list[dict[str, Any]] = []
    if not modern:
        lines.append(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "pipe", "version": "1"},
                },
            }
        )
        lines.append({"jsonrpc": "2.0", "method": "notifications/initialized"})
    calls = [
        ("np_start", {}),
        ("np_goal", {"title": "g", "description": "d"}),
        *[("np_add", {"tasks": [{"title": f"task {n}"}]}) for n in range(8)],
        ("np_plan", {}),
    ]
    for n, (tool, args) in enumerate(calls, 1):
        params: dict[str, Any] = {"name": tool, "arguments": args}
        if modern:
            params["_meta"] = MODERN_META
        lines.append({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params})
    env = {**os.environ, "NP_DB": str(db)}
    env.pop("NP_DEBUG", None)
    proc = subprocess.run(
        [*np_command(), "mcp", "-C", str(project)],
        input="".join(json.dumps(m) + "\n" for m in lines).encode(),
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    replies = {m["id"]: m for m in map(json.loads, proc.stdout.decode().splitlines())}
    for n in range(1, len(calls) + 1):
        assert n in replies, (n, proc.stdout[-2000:])
        outcome = tool_result(replies[n])
        assert outcome is not None and not outcome[0], replies[n]
    with sqlite3.connect(db) as conn:
        titles = sorted(r[0] for r in conn.execute("SELECT title FROM tasks"))
    assert titles == sorted(f"task {n}" for n in range(8))


# -- text that cannot be UTF-8, framing and the handshake (fresh findings F2, F3, F4) --------

SURROGATE = "\ud83d"  # half a surrogate pair: json.dumps sends it as the escape \ud83d


@pytest.mark.parametrize("modern", [False, True], ids=["handshake", "stateless"])
def test_text_that_cannot_be_utf8_is_refused_by_field(tmp_path: Path, modern: bool) -> None:
    """Half a surrogate pair (which the SDK's parser refuses outright) or a byte that is not
    UTF-8, anywhere in a request, is answered: a tool call with ``invalid_argument`` naming
    the field, anything else with an error; nothing is written, and end of input still ends
    the server at once (it used to wait for the answer that never came)."""
    project, db = tmp_path / "p", tmp_path / "np.db"
    project.mkdir()
    server = RawMcp(db, project, modern=modern)
    try:
        start = tool_result(server.call("np_start", {}))
        assert start is not None and not start[0], start
        before = snapshot(db)
        for tool, args, field in (
            ("np_add", {"tasks": [{"title": SURROGATE}]}, "title"),
            ("np_add", {"tasks": [{"title": "t", "description": f"a{SURROGATE}b"}]}, "descr"),
            ("np_plan", {"id": SURROGATE}, "'id'"),
            ("np_plan", {"status": [SURROGATE]}, "'status'"),
            ("np_goal", {"title": "g", "description": SURROGATE}, "descr"),
            ("np_update", {"updates": [{"id": SURROGATE, "status": "completed"}]}, "'id'"),
            ("np_edit", {"id": "abcdef", "title": "t", "reason": SURROGATE}, "reason"),
            ("np_plan", {"dir": str(project) + SURROGATE}, "surrogate"),
            ("np_plan", {SURROGATE: "x"}, "Unknown field"),
        ):
            outcome = tool_result(server.call(tool, args))
            assert outcome is not None and outcome[0], (tool, args, outcome)
            assert outcome[1].startswith("Failed (invalid_argument): "), outcome
            assert field in outcome[1] and "D83D" in outcome[1].upper(), outcome
        # A byte that is not UTF-8 inside a JSON string: the same, naming the byte.
        params = {"name": "np_add", "arguments": {"tasks": [{"title": "aXb"}]}}
        server.next_id += 1
        message = {"jsonrpc": "2.0", "id": server.next_id, "method": "tools/call"}
        if modern:
            params["_meta"] = MODERN_META
        raw = json.dumps({**message, "params": params}).encode().replace(b"aXb", b"a\xffb")
        server.write(raw + b"\n")
        outcome = tool_result(server.wait(server.next_id))
        assert outcome is not None and outcome[0] and "0xFF" in outcome[1], outcome
        # Other requests with such text are answered too.
        reply = server.request("prompts/get", {"name": SURROGATE})
        assert "error" in reply and reply["error"]["message"], reply
        reply = server.request("tools/call", {"name": SURROGATE, "arguments": {}})
        assert "error" in reply or reply["result"].get("isError"), reply
        assert "result" in server.request("tools/list", {})
        assert snapshot(db) == before
    finally:
        assert server.proc.poll() is None, "np mcp died"
        assert server.proc.stdin is not None
        server.proc.stdin.close()
        # Every request was answered, so nothing holds end of input (the drain's 30 s).
        assert server.proc.wait(timeout=15) == 0
    assert server.garbage == []


def _rpc_error(reply: dict[str, Any], code: int) -> str:
    assert "error" in reply, reply
    error = reply["error"]
    assert error["code"] == code, reply
    message = str(error["message"])
    assert message.endswith(".") and len(message.split()) >= 5, reply  # a sentence
    assert error.get("data") != "", reply  # never the SDK's blank data
    return message


def test_requests_before_initialize_are_told_to_initialize(tmp_path: Path) -> None:
    """A request before the handshake gets a sentence naming what to do, not the SDK's
    blank "Invalid request parameters"; then the handshake works as usual."""
    project, db = tmp_path / "p", tmp_path / "np.db"
    project.mkdir()
    server = RawMcp(db, project, modern=True)  # no handshake sent; no envelope below
    try:
        for method, params in (
            ("tools/call", {"name": "np_start", "arguments": {}}),
            ("tools/list", {}),
            ("prompts/list", None),
        ):
            message = _rpc_error(server.request(method, params, meta=False), -32602)
            assert "not initialized" in message and "initialize" in message, message
            assert method in message, message
        reply = server.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "late", "version": "1"},
            },
            meta=False,
        )
        assert "result" in reply, reply
        server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        server.modern = False
        outcome = tool_result(server.call("np_start", {}))
        assert outcome is not None and not outcome[0], outcome
        # Params the SDK cannot validate, after the handshake: a sentence, not blank data.
        message = _rpc_error(server.request("tools/call", {"arguments": {}}), -32602)
        assert "tools/call" in message and "not initialized" not in message, message
    finally:
        assert server.close() == 0
    assert server.garbage == []


@pytest.mark.parametrize("modern", [False, True], ids=["handshake", "stateless"])
def test_unreadable_lines_and_batches_are_answered(tmp_path: Path, modern: bool) -> None:
    """Like ``np serve``: a line that is not JSON is -32700 with id null, a batch -32600
    with each id that can be read in it, a JSON value that is no message -32600 (with its
    id when it has one); each a sentence, nothing done, and the server carries on."""
    project, db = tmp_path / "p", tmp_path / "np.db"
    project.mkdir()
    server = RawMcp(db, project, modern=modern)
    try:
        start = tool_result(server.call("np_start", {}))
        assert start is not None and not start[0], start
        before = snapshot(db)
        for raw in (b"{not json\n", b"\xff\xfe garbage\n", b'{"jsonrpc": "2.0", "id": 3\n'):
            server.write(raw)
            assert "JSON" in _rpc_error(server.wait(None), -32700)
        server.write(b"[]\n")
        assert "Batches" in _rpc_error(server.wait(None), -32600)
        add = {"name": "np_add", "arguments": {"tasks": [{"title": "in a batch"}]}}
        if modern:
            add["_meta"] = MODERN_META
        batch = [
            {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": add},
            {"jsonrpc": "2.0", "id": "ten", "method": "ping"},
        ]
        server.send(batch)
        assert "Batches" in _rpc_error(server.wait(9), -32600)
        assert "Batches" in _rpc_error(server.wait("ten"), -32600)
        server.send({"jsonrpc": "2.0", "id": "no-method"})
        assert "method" in _rpc_error(server.wait("no-method"), -32600)
        server.send({"jsonrpc": "1.0", "id": 21, "method": "ping"})
        assert "2.0" in _rpc_error(server.wait(21), -32600)
        server.send({"jsonrpc": "2.0", "id": 22, "method": "tools/call", "params": [1, 2]})
        assert "object" in _rpc_error(server.wait(22), -32602)
        server.send(7)
        _rpc_error(server.wait(None), -32600)
        # Nested deeper than the SDK's parser (or np's own walk) goes: answered, by id.
        for n, depth, leaf in ((23, 300, "1"), (24, 900, '"\\ud83d"'), (25, 3000, "1")):
            nested = "[" * depth + leaf + "]" * depth
            server.write(
                b'{"jsonrpc": "2.0", "id": %d, "method": "tools/call", "params": '
                b'{"name": "np_plan", "arguments": {"id": %s}}}\n' % (n, nested.encode())
            )
            _rpc_error(server.wait(n if depth < 3000 else None), -32600 if depth < 3000 else -32700)
        assert snapshot(db) == before  # the batched np_add was not carried out
        assert "result" in server.request("tools/list", {})
    finally:
        assert server.proc.poll() is None, "np mcp died"
        assert server.close() == 0
    assert server.garbage == []


def test_a_bad_dir_is_refused_by_every_tool(tmp_path: Path) -> None:
    """A ``dir`` that does not exist, is relative or is a file is ``invalid_argument`` naming
    the path, for every tool; never the plan of a parent folder, and nothing written there."""
    project, db = tmp_path / "p", tmp_path / "np.db"
    project.mkdir()
    (project / "notes.txt").write_text("a file")
    server = RawMcp(db, project)
    try:
        assert tool_result(server.call("np_start", {})) is not None
        goal = tool_result(server.call("np_goal", {"title": "g", "description": "d"}))
        assert goal is not None and not goal[0], goal
        before = snapshot(db)
        extra: dict[str, dict[str, Any]] = {
            "np_goal": {"title": "g2", "description": "d2"},
            "np_add": {"tasks": [{"title": "written into the parent"}]},
            "np_update": {"updates": [{"id": "abcdef", "status": "completed"}]},
            "np_edit": {"id": "abcdef", "title": "t", "reason": "r"},
        }
        for tool in TOOLS:
            for bad, words in (
                (str(project / "typo"), "no such directory"),
                (str(project / "typo" / "deeper"), "no such directory"),
                (str(project / "notes.txt"), "a file, not a directory"),
                ("relative/x", "relative path"),
            ):
                outcome = tool_result(server.call(tool, {"dir": bad, **extra.get(tool, {})}))
                assert outcome is not None and outcome[0], (tool, bad, outcome)
                assert outcome[1].startswith("Failed (invalid_argument): "), (tool, bad, outcome)
                assert bad in outcome[1] and words in outcome[1], (tool, bad, outcome)
        assert snapshot(db) == before
        plan = tool_result(server.call("np_plan", {"dir": str(project)}))
        assert plan is not None and not plan[0] and "Goal: g" in plan[1], plan
    finally:
        assert server.close() == 0
