"""stdio for ``np mcp``: the process's own descriptors, and a drain before end of input.

The SDK's ``stdio_server`` cancels every request still in flight when stdin ends and answers
it "Connection closed", even when its write has already committed. A client that sends its
last requests and closes its end (a script, a host shutting down) would then read a failure
for a change that was made. So np hands ``stdio_server`` streams of its own:

* the input yields each line as it comes, and at end of input waits (up to
  :data:`DRAIN_SECONDS`) until every request it passed on has been answered; only then does
  the SDK see the end. A request the client cancelled (``notifications/cancelled``) is not
  waited for: the spec says it gets no answer.
* the output notes each answer's id as it is written.

File descriptors 0 and 1 are pointed at ``/dev/null`` and stderr while serving (as the SDK
does for its own streams), so a stray ``print`` or a child process cannot corrupt the stream.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any, BinaryIO

import anyio

DRAIN_SECONDS = 30.0  # the longest end of input waits for answers (busy retries included)
_POLL = 0.005


def _key(request_id: object) -> str:
    return json.dumps(request_id, sort_keys=True)


class Pending:
    """Requests read from the client and not answered yet, by id."""

    def __init__(self) -> None:
        self.open: Counter[str] = Counter()

    def read(self, line: str) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        method = message.get("method")
        if "id" in message and isinstance(method, str):
            self.open[_key(message["id"])] += 1
        elif method == "notifications/cancelled":
            params = message.get("params")
            if isinstance(params, dict) and "requestId" in params:
                self._settle(params["requestId"])

    def written(self, line: str) -> None:
        # Only answers (a result or an error with an id) settle a request.
        if '"result"' not in line and '"error"' not in line:
            return
        try:
            message = json.loads(line)
        except ValueError:
            return
        if isinstance(message, dict) and "method" not in message and "id" in message:
            self._settle(message["id"])

    def _settle(self, request_id: object) -> None:
        key = _key(request_id)
        if self.open[key] > 0:
            self.open[key] -= 1
        if self.open[key] <= 0:
            del self.open[key]

    async def drained(self, seconds: float = DRAIN_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        while self.open and time.monotonic() < deadline:
            await anyio.sleep(_POLL)


class Input:
    """The client's lines, as ``stdio_server`` reads them (``async for line in stdin``)."""

    def __init__(self, raw: BinaryIO, pending: Pending) -> None:
        self._file = anyio.wrap_file(io.TextIOWrapper(raw, encoding="utf-8", errors="replace"))
        self._pending = pending

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        async for line in self._file:
            self._pending.read(line)
            yield line
        await self._pending.drained()


class Output:
    """What ``stdio_server`` writes to (``write`` then ``flush`` per message)."""

    def __init__(self, raw: BinaryIO, pending: Pending) -> None:
        self._file = anyio.wrap_file(io.TextIOWrapper(raw, encoding="utf-8", write_through=True))
        self._pending = pending

    async def write(self, text: str) -> int:
        written = await self._file.write(text)
        self._pending.written(text)
        return written

    async def flush(self) -> None:
        await self._file.flush()


def claim_stdio() -> tuple[BinaryIO, BinaryIO, Callable[[], None]]:
    """Private handles on the real stdin and stdout, with fd 0 pointed at ``/dev/null`` and
    fd 1 at stderr; the returned function puts them back."""
    sys.stdout.flush()
    saved: list[tuple[int, int]] = []
    try:
        in_fd, out_fd = os.dup(0), os.dup(1)
    except OSError:
        return sys.stdin.buffer, sys.stdout.buffer, lambda: None
    for fd, target in ((0, os.open(os.devnull, os.O_RDONLY)), (1, os.dup(2))):
        try:
            keep = os.dup(fd)
            os.dup2(target, fd)
            saved.append((fd, keep))
        except OSError:
            pass
        finally:
            os.close(target)

    def restore() -> None:
        for fd, keep in saved:
            try:
                os.dup2(keep, fd)
                os.close(keep)
            except OSError:
                pass

    return os.fdopen(in_fd, "rb"), os.fdopen(out_fd, "wb"), restore


def streams(raw_in: BinaryIO, raw_out: BinaryIO) -> tuple[Any, Any]:
    """The input and output to hand ``stdio_server``, sharing one :class:`Pending`."""
    pending = Pending()
    return Input(raw_in, pending), Output(raw_out, pending)
