"""A minimal JSON-RPC 2.0 client over stdio with LSP framing, for benchmarks and tests.

It speaks raw bytes on purpose: the benchmarks measure the server, not a client library,
and the fuzz tests need to send frames no well-behaved client would. A reader thread
parses the server's frames; responses resolve futures by id, notifications go to a
queue with their arrival time, and responses with ``"id": null`` (answers to frames the
server could not read) are collected in ``orphans``.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any


class ServerGone(RuntimeError):
    pass


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def encode(message: dict[str, Any]) -> bytes:
    return frame(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode())


class RawLspClient:
    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        stderr: int | IO[Any] | None = subprocess.DEVNULL,
    ) -> None:
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            cwd=str(cwd) if cwd is not None else None,
        )
        self._ids = itertools.count(1)
        self._pending: dict[Any, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.notifications: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self.orphans: queue.Queue[dict[str, Any]] = queue.Queue()
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read, name="lsp-reader", daemon=True)
        self._reader.start()

    # -- reading --------------------------------------------------------------------------

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        try:
            while True:
                length = None
                while True:
                    line = out.readline()
                    if not line:
                        return
                    if line in (b"\r\n", b"\n"):
                        if length is not None:
                            break
                        continue
                    name, _, value = line.decode("ascii", "replace").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                body = out.read(length)
                if len(body) < length:
                    return
                self._dispatch(json.loads(body))
        finally:
            self.closed.set()
            with self._lock:
                pending = list(self._pending.values())
                self._pending.clear()
            for fut in pending:
                if not fut.done():
                    fut.set_exception(ServerGone("the server closed its output"))

    def _dispatch(self, msg: dict[str, Any]) -> None:
        if "method" in msg:
            if "id" in msg:  # a server → client request: answer politely with null
                self.send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
            else:
                self.notifications.put((time.perf_counter(), msg))
            return
        msg_id = msg.get("id")
        if msg_id is None:
            self.orphans.put(msg)
            return
        with self._lock:
            fut = self._pending.pop(msg_id, None)
        if fut is not None:
            fut.set_result(msg)
        else:
            self.orphans.put(msg)

    # -- writing --------------------------------------------------------------------------

    def send_bytes(self, data: bytes) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        with self._write_lock:
            try:
                stdin.write(data)
                stdin.flush()
            except (BrokenPipeError, ValueError) as exc:
                raise ServerGone(str(exc)) from None

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(encode(message))

    def request_future(
        self, method: str, params: Any = None, *, msg_id: Any = None
    ) -> Future[dict[str, Any]]:
        if msg_id is None:
            msg_id = next(self._ids)
        fut: Future[dict[str, Any]] = Future()
        with self._lock:
            self._pending[msg_id] = fut
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return fut

    def expect(self, msg_id: Any) -> Future[dict[str, Any]]:
        """A future for the response to ``msg_id``, for a request sent by hand as bytes."""
        fut: Future[dict[str, Any]] = Future()
        with self._lock:
            self._pending[msg_id] = fut
        return fut

    def request(self, method: str, params: Any = None, *, timeout: float = 30) -> dict[str, Any]:
        """The whole response message: it holds ``result`` or ``error``."""
        return self.request_future(method, params).result(timeout)

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def execute(self, command: str, *arguments: Any, timeout: float = 30) -> dict[str, Any]:
        return self.request(
            "workspace/executeCommand",
            {"command": command, "arguments": list(arguments)},
            timeout=timeout,
        )

    # -- session ----------------------------------------------------------------------------

    def initialize(self, root: str | Path | None = None, name: str = "np-bench") -> dict[str, Any]:
        params: dict[str, Any] = {
            "processId": os.getpid(),
            "clientInfo": {"name": name},
            "capabilities": {},
            "rootUri": Path(root).resolve().as_uri() if root is not None else None,
        }
        response = self.request("initialize", params, timeout=60)
        self.notify("initialized", {})
        return response

    def close(self, timeout: float = 10) -> int | None:
        """shutdown + exit, then wait; kills the process if it does not end."""
        try:
            if self.proc.poll() is None:
                self.request("shutdown", None, timeout=timeout)
                self.notify("exit")
        except (ServerGone, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        return self.proc.returncode

    def drain_notifications(self) -> list[tuple[float, dict[str, Any]]]:
        out = []
        while True:
            try:
                out.append(self.notifications.get_nowait())
            except queue.Empty:
                return out
