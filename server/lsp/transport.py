"""LSP base-protocol framing that never loses sync: ``Content-Length`` frames from stdin.

pygls 2.1.1's reader stops answering for good after one bad ``Content-Length`` header.
:class:`Framer` resynchronises after any malformed input — a wrong length, garbage bytes,
a frame larger than :data:`MAX_BODY` — and reports unreadable frames so the protocol can
answer them with ``"id": null``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import re
from typing import Any, BinaryIO

import attrs

log = logging.getLogger("np.serve")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600

MAX_BODY = 64 * 1024 * 1024  # larger frames are skipped unread (a 500-task batch fits)
MAX_HEADER_LINE = 8 * 1024  # a longer line without a newline is garbage
STALL_SECONDS = 0.5  # see Framer.flush_stalled
READ_CHUNK = 256 * 1024


# ``Content-Length: N`` ending a line. The same pattern finds a frame header inside a body
# whose Content-Length was overstated: it can never occur in valid JSON (a bare word, or a
# raw newline inside a string).
_LENGTH = re.compile(rb"content-length[ \t]{0,8}:[ \t]{0,8}(\d{1,18})[ \t]{0,8}\r?\n", re.I)
_LENGTH_WORD = re.compile(rb"content-length", re.I)
_OVERLAP = 64  # bytes kept between scans so a header split across reads is still found

# -- framing -----------------------------------------------------------------------------------


@attrs.frozen
class Message:
    """One parsed JSON value from a frame body."""

    value: Any


@attrs.frozen
class FrameError:
    """A frame that could not be read; answered with id null and then skipped."""

    code: int
    message: str


Frame = Message | FrameError


def _parse(body: bytes) -> Any:
    """Raises ValueError (including UnicodeDecodeError) or RecursionError."""
    if not body.strip():
        raise ValueError("empty body")
    return json.loads(body)


class Framer:
    """Incremental LSP base-protocol reader that resynchronises after any malformed input.

    * Headers are read line by line; a ``Content-Length`` line is found even behind
      garbage on the same line, unknown headers are ignored, and lines that are not
      headers are skipped.
    * A body is cut short where a new frame's header appears inside it (the previous
      Content-Length was overstated), and a body that does not parse is extended to the
      next header when that makes it parse (the Content-Length was understated, e.g.
      characters counted instead of bytes).
    * Bodies over ``max_body`` bytes are skipped as they stream in, without being held.
    """

    def __init__(self, max_body: int = MAX_BODY) -> None:
        self.max_body = max_body
        self.skipped = 0  # garbage bytes dropped, for the log
        self._buf = bytearray()
        self._length: int | None = None  # Content-Length of the header block being read
        self._body: int | None = None  # body bytes still expected, when inside a body
        self._discard = False  # inside an oversized body: drop instead of keeping
        self._scanned = 0  # body bytes already searched for a stray header
        self._stall_checked = -1

    @property
    def waiting_for_body(self) -> bool:
        """A partial body is buffered that :meth:`flush_stalled` has not looked at yet."""
        return (
            self._body is not None
            and not self._discard
            and bool(self._buf)
            and self._stall_checked != len(self._buf)
        )

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        out: list[Frame] = []
        while self._body_step(out) if self._body is not None else self._header_step(out):
            pass
        return out

    def flush_stalled(self) -> list[Frame]:
        """Nothing has arrived for a while in the middle of a body. If what did arrive is a
        whole JSON document, the Content-Length overstated it: take it rather than leave
        the client waiting for an answer that needs bytes it will never send."""
        if not self.waiting_for_body:
            return []
        self._stall_checked = len(self._buf)
        try:
            value = _parse(bytes(self._buf))
        except (ValueError, RecursionError):
            return []
        log.warning("A frame had fewer bytes than its Content-Length; took what came.")
        self._buf.clear()
        self._end_body()
        return [Message(value)]

    # -- internals -----------------------------------------------------------------------

    def _end_body(self) -> None:
        self._body = None
        self._discard = False
        self._scanned = 0
        self._stall_checked = -1

    def _header_step(self, out: list[Frame]) -> bool:
        buf = self._buf
        newline = buf.find(b"\n")
        if newline < 0:
            if len(buf) > MAX_HEADER_LINE:
                drop = len(buf) - _OVERLAP
                del buf[:drop]
                self.skipped += drop
            return False
        line = bytes(buf[: newline + 1])
        del buf[: newline + 1]
        found = _LENGTH.search(line)
        if found is not None:
            self._length = int(found.group(1))  # the last one in a header block wins
            self.skipped += found.start()
            return True
        if line.strip():
            if _LENGTH_WORD.search(line):
                self._length = None
                out.append(FrameError(PARSE_ERROR, "Bad Content-Length header; frame skipped."))
            elif self._length is None:
                self.skipped += len(line)  # not a header: garbage between frames
            return True  # any other header (Content-Type) is ignored
        if self._length is not None:  # the blank line ending a header block
            self._body = self._length
            self._length = None
            self._discard = self._body > self.max_body
            self._scanned = 0
        return True

    def _stray_header(self, need: int) -> int | None:
        """Where a new frame's header starts inside the next ``need`` bytes, if it does."""
        end = min(len(self._buf), need + _OVERLAP)
        found = _LENGTH.search(self._buf, max(0, self._scanned - _OVERLAP), end)
        if found is not None and found.start() < need:
            return found.start()
        return None

    def _body_step(self, out: list[Frame]) -> bool:
        need = self._body
        assert need is not None
        buf = self._buf
        stray = self._stray_header(need)
        if self._discard:
            if stray is not None or len(buf) >= need:
                del buf[: need if stray is None else stray]
                self._end_body()
                out.append(
                    FrameError(
                        INVALID_REQUEST,
                        f"Message too large (over {self.max_body:,} bytes); it was skipped.",
                    )
                )
                return True
            drop = max(0, len(buf) - _OVERLAP)
            del buf[:drop]
            self._body = need - drop
            self._scanned = len(buf)
            return False
        if stray is not None:
            body = bytes(buf[:stray])
            del buf[:stray]
            log.warning("A frame was shorter than its Content-Length; resynchronised.")
        elif len(buf) >= need:
            body = bytes(buf[:need])
            del buf[:need]
        else:
            self._scanned = len(buf)
            return False
        self._end_body()
        out.append(self._message(body))
        return True

    def _message(self, body: bytes) -> Frame:
        try:
            return Message(_parse(body))
        except (ValueError, RecursionError):
            pass
        # An understated Content-Length leaves the rest of the JSON in the buffer: take it
        # if that completes the document.
        if self._buf:
            found = _LENGTH.search(self._buf)
            end = found.start() if found is not None else len(self._buf)
            try:
                value = _parse(body + bytes(self._buf[:end]))
            except (ValueError, RecursionError):
                pass
            else:
                del self._buf[:end]
                log.warning("A frame was longer than its Content-Length; resynchronised.")
                return Message(value)
        return FrameError(PARSE_ERROR, "Parse error: the message body is not valid JSON.")


def pump(stdin: BinaryIO, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes]) -> None:
    """Reader thread: move stdin chunks to the loop, b"" at EOF. It reads the raw file
    descriptor, so being a daemon blocked in a read never stalls interpreter exit."""
    try:
        fd: int | None = stdin.fileno()
    except (OSError, ValueError, AttributeError):
        fd = None
    while True:
        try:
            data = os.read(fd, READ_CHUNK) if fd is not None else stdin.read1(READ_CHUNK)  # type: ignore[attr-defined]
        except (OSError, ValueError):
            data = b""
        try:
            asyncio.run_coroutine_threadsafe(queue.put(data), loop).result()
        except (RuntimeError, concurrent.futures.CancelledError):
            return  # the loop is gone
        if not data:
            return
