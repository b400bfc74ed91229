"""Helpers for the ``np serve`` tests: a pytest-lsp client on the real server, a plain
blocking JSON-RPC client that can also write raw bytes, and the CLI for comparisons."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient, make_test_lsp_client

from tests.support import np_command

COMMANDS = (
    "np.session.start",
    "np.session.resume",
    "np.session.archive",
    "np.session.move",
    "np.session.join",
    "np.session.list",
    "np.session.overview",
    "np.plan",
    "np.goal.set",
    "np.goal.change",
    "np.task.list",
    "np.task.add",
    "np.task.update",
    "np.task.edit",
    "np.task.next",
    "np.task.wait",
    "np.task.ask",
    "np.task.answer",
    "np.questions",
    "np.events",
    "np.export",
)
# The fields each command's argument object may carry (SPEC §5 and server.commands).
FIELDS: dict[str, tuple[str, ...]] = {
    "np.session.start": ("dir", "key"),
    "np.session.resume": ("dir",),
    "np.session.archive": ("dir", "sid", "key"),
    "np.session.move": ("dir", "sid", "reason", "key"),
    "np.session.join": ("dir", "sid", "key"),
    "np.session.list": ("state", "limit"),
    "np.session.overview": ("state", "limit", "offset", "sid"),
    "np.plan": ("dir", "sid"),
    "np.goal.set": ("dir", "title", "description", "key"),
    "np.goal.change": ("dir", "sid", "title", "description", "reason", "key"),
    "np.task.list": ("dir", "sid", "status", "ids"),
    "np.task.add": ("dir", "sid", "tasks", "key"),
    "np.task.update": ("dir", "sid", "updates", "reason", "take_over", "key"),
    "np.task.edit": ("dir", "sid", "id", "title", "description", "reason", "key"),
    "np.task.next": ("dir", "key"),
    "np.task.wait": ("dir", "id", "after", "reason", "key"),
    "np.task.ask": ("dir", "id", "question", "choices", "withdraw", "key"),
    "np.task.answer": ("dir", "sid", "id", "answer", "key"),
    "np.questions": ("dir", "sid", "all"),
    "np.events": ("dir", "sid", "after_seq", "limit", "newest_first"),
    "np.export": ("dir", "sid", "format"),
}
DID_CHANGE = "np/didChange"
REPO = Path(__file__).resolve().parents[2]
# What must never appear in an error a client sees: tracebacks and the server's own files.
LEAK = re.compile(
    r"Traceback|File \"|\.py\b|site-packages|" + re.escape(str(REPO)) + "|" + re.escape(sys.prefix)
)


def serve_command() -> list[str]:
    return [*np_command(), "serve"]


def server_env(db: Path | str, **extra: str) -> dict[str, str]:
    """pytest-lsp's ``server_env`` replaces the environment: always merge."""
    env = {**os.environ, "NP_DB": str(db), **extra}
    env.pop("NP_DEBUG", None)
    return env


def run_cli(db: Path | str, *args: str, cwd: Path | str) -> Any:
    """``np <args> --json`` on ``db``; returns the parsed JSON output."""
    proc = subprocess.run(
        [*np_command(), *args, "--json"],
        cwd=str(cwd),
        env=server_env(db),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


# -- pytest-lsp ------------------------------------------------------------------------


class Changes:
    """Every ``np/didChange`` a client received, with a way to wait for one."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self._event = asyncio.Event()

    def add(self, params: Any) -> None:
        self.seen.append(params._asdict() if hasattr(params, "_asdict") else dict(params))
        self._event.set()

    async def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for change in self.seen:
                if pred(change):
                    return change
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"no matching np/didChange; saw {self.seen}")
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), left)
            except TimeoutError:
                pass


class NpClient:
    """A pytest-lsp ``LanguageClient`` on a real ``np serve`` and its change log."""

    def __init__(
        self,
        client: LanguageClient,
        changes: Changes,
        init: types.InitializeResult | None = None,
    ) -> None:
        self.lsp = client
        self.changes = changes
        self.init = init

    @property
    def returncode(self) -> int | None:
        proc = self.lsp._server
        return proc.returncode if proc is not None else None

    async def call(self, command: str, *arguments: Any) -> Any:
        return await self.lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=list(arguments))
        )

    async def error(self, command: str, *arguments: Any) -> JsonRpcException:
        try:
            result = await self.call(command, *arguments)
        except JsonRpcException as exc:
            return exc
        raise AssertionError(f"{command} succeeded: {str(result)[:300]}")

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.lsp.shutdown_session(), 10)
        finally:
            await self.lsp.stop()


class Shared:
    """The module-wide server of a test module (the ``shared`` fixture)."""

    def __init__(self, client: NpClient, db: Path, base: Path) -> None:
        self.client = client
        self.db = db
        self.base = base


async def start_client(
    db: Path | str,
    *,
    root: Path | None = None,
    folders: list[Path] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    initialize: bool = True,
    client_name: str = "pytest",
) -> NpClient:
    changes = Changes()

    def factory() -> LanguageClient:
        client = make_test_lsp_client()

        @client.feature(DID_CHANGE)
        def _changed(params: Any) -> None:
            changes.add(params)

        return client

    client = factory()
    # What ClientServerConfig.start does, plus the server's working directory (its
    # fallback for ``dir``).
    await client.start_io(
        *serve_command(), env=env or server_env(db), cwd=str(cwd) if cwd is not None else None
    )
    init = None
    if initialize:
        init = await client.initialize_session(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                root_uri=root.as_uri() if root is not None else None,
                workspace_folders=(
                    [types.WorkspaceFolder(uri=f.as_uri(), name=f.name) for f in folders]
                    if folders
                    else None
                ),
                client_info=types.ClientInfo(name=client_name),
            )
        )
    return NpClient(client, changes, init)


def as_dict(value: Any) -> Any:
    """pygls hands custom payloads over as namedtuples; turn them back into JSON shapes."""
    if hasattr(value, "_asdict"):
        return {k: as_dict(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: as_dict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_dict(v) for v in value]
    return value


def assert_clean_error(
    code: int, message: str, data: Any, want: int, kind: str | None = None
) -> dict[str, Any]:
    """An error with code ``want`` (and ``data.kind``), a readable one-line message, and
    no traceback or server file path anywhere. Returns ``data``."""
    data = as_dict(data)
    assert code == want, (code, message, data)
    assert message and len(message) <= 1001 and "\n" not in message, message[:300]
    if kind is not None:
        assert isinstance(data, dict) and data.get("kind") == kind, data
    blob = message + " " + json.dumps(data, default=str)
    assert not LEAK.search(blob), blob[:500]
    assert len(blob) < 50_000
    return data if isinstance(data, dict) else {}


def check_exc(exc: JsonRpcException, want: int, kind: str | None = None) -> dict[str, Any]:
    return assert_clean_error(exc.code, exc.message, exc.data, want, kind)


def check_reply(reply: dict[str, Any], want: int, kind: str | None = None) -> dict[str, Any]:
    assert "error" in reply, str(reply)[:300]
    err = reply["error"]
    return assert_clean_error(err["code"], err["message"], err.get("data"), want, kind)


# -- a plain JSON-RPC client on raw pipes ---------------------------------------------


def frame(obj: Any) -> bytes:
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RawServer:
    """``np serve`` in a subprocess, driven byte by byte. A reader thread parses what the
    server writes *strictly* (exact LSP framing, JSON bodies) and records anything else in
    ``violations``: nothing but protocol bytes may reach stdout."""

    def __init__(self, env: dict[str, str], cwd: Path, args: tuple[str, ...] = ()) -> None:
        self.proc = subprocess.Popen(
            [*serve_command(), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=str(cwd),
        )
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.stderr = bytearray()
        self._next_id = 1000
        self._pending: dict[Any, dict[str, Any]] = {}
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    # -- reading ---------------------------------------------------------------------

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := self.proc.stderr.read1(65536):  # type: ignore[attr-defined]
            self.stderr += chunk

    def _read_stdout(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line == b"\r\n":
                    break
                m = re.fullmatch(rb"Content-Length: (\d+)\r\n", line)
                if m:
                    length = int(m.group(1))
                elif not line.startswith(b"Content-Type: "):
                    self.violations.append(f"bad header line {line[:100]!r}")
            if length is None:
                self.violations.append("frame without Content-Length")
                continue
            body = out.read(length)
            try:
                msg = json.loads(body)
            except ValueError:
                self.violations.append(f"bad body {body[:100]!r}")
                continue
            if msg.get("jsonrpc") != "2.0":
                self.violations.append(f"not JSON-RPC 2.0: {body[:100]!r}")
            if "method" in msg and "id" not in msg:
                self.notifications.append(msg)
            self.messages.put(msg)

    def response(self, msg_id: Any, timeout: float = 30.0) -> dict[str, Any]:
        if msg_id in self._pending:
            return self._pending.pop(msg_id)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no response to {msg_id!r}; stderr: {self.err_text()[-2000:]}")
            try:
                msg = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if "method" in msg:
                continue
            if msg.get("id") == msg_id:
                return msg
            self._pending[msg.get("id")] = msg

    def next_message(self, timeout: float = 30.0) -> dict[str, Any]:
        """The next response (not notification) in arrival order."""
        if self._pending:
            key = next(iter(self._pending))
            return self._pending.pop(key)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message")
            try:
                msg = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if "method" not in msg:
                return msg

    def exchange(self, data: bytes, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Send ``data``, then a probe request. Returns every response that came before
        the probe's, which must be a result: the server is alive and still in sync."""
        self.send(data)
        probe = self.new_id()
        self.send(
            frame(
                {
                    "jsonrpc": "2.0",
                    "id": probe,
                    "method": "workspace/executeCommand",
                    "params": {"command": "np.session.list", "arguments": [{"limit": 1}]},
                }
            )
        )
        got: list[dict[str, Any]] = []
        while True:
            msg = self.next_message(timeout)
            if msg.get("id") == probe:
                assert "result" in msg, msg
                return got
            got.append(msg)

    def err_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")

    # -- writing ---------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def request(self, method: str, params: Any = None, timeout: float = 30.0) -> dict[str, Any]:
        msg_id = self.new_id()
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(frame(msg))
        return self.response(msg_id, timeout)

    def notify(self, method: str, params: Any = None) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(frame(msg))

    def command(self, name: str, *arguments: Any, timeout: float = 30.0) -> dict[str, Any]:
        return self.request(
            "workspace/executeCommand",
            {"command": name, "arguments": list(arguments)},
            timeout,
        )

    def initialize(self, root: Path | None = None, timeout: float = 60.0) -> dict[str, Any]:
        """Starting costs about a second of CPU (lsprotocol's import): on a loaded CI
        machine it can take much longer, hence the generous timeout."""
        params: dict[str, Any] = {"processId": os.getpid(), "capabilities": {}}
        if root is not None:
            params["rootUri"] = root.as_uri()
        result = self.request("initialize", params, timeout)
        self.notify("initialized", {})
        return result

    def alive(self) -> bool:
        """Still running and still answering."""
        if self.proc.poll() is not None:
            return False
        reply = self.command("np.session.list", {"limit": 1})
        return "result" in reply

    def close(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            try:
                self.request("shutdown", timeout=timeout)
                self.notify("exit")
            except (OSError, TimeoutError):
                pass
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            try:
                self.close()
            except Exception:
                self.proc.kill()
