"""LSP base-protocol framing that never loses sync: ``Content-Length`` frames from stdin.

pygls 2.1.1's reader stops answering for good after one bad ``Content-Length`` header.
:class:`Framer` resynchronises after any malformed input — a wrong length, garbage bytes,
a frame larger than :data:`MAX_BODY` — and reports unreadable frames so the protocol can
answer them: with their own id when it can be read from the bytes, else ``"id": null``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
from typing import Any, BinaryIO

import attrs

log = logging.getLogger("np.serve")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600

# The largest frame body np reads, in bytes. The largest legal request is a 500-task
# np.task.add with 300-character titles and 20,000-character descriptions; sent with JSON's
# default ASCII escaping and every character outside the BMP (12 bytes, a \uXXXX\uXXXX
# pair), it is about 122 MB (500 * 20,300 * 12 = 121.8 MB, plus the envelope). 128 MiB
# leaves room for that and for any indentation. Larger frames are skipped unread and
# answered -32600 with their own id when it can be read.
MAX_BODY = 128 * 1024 * 1024
ID_SCAN = 64 * 1024  # bytes read from each end of an unreadable frame to find its id
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
    """A frame that could not be read; answered with its id when that could be read (an
    oversized frame), else with id null, and then skipped."""

    code: int
    message: str
    id: int | str | None = None


_TOKEN = re.compile(
    rb'\s*(?:"(?:[^"\\]|\\.)*"|[{}\[\]:,]|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)',
    re.S,
)
_TAIL_ID = re.compile(rb'(?<!\\)"id"\s*:\s*(-?\d{1,18}|"(?:[^"\\]|\\.){0,1000}")\s*}\s*$', re.S)


def _id_value(token: bytes) -> int | str | None:
    try:
        value = json.loads(token)
    except ValueError:
        return None
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return None


def read_id(head: bytes, tail: bytes) -> int | str | None:
    """The top-level ``"id"`` of a JSON object of which only ``head`` (its first bytes)
    and ``tail`` (its last bytes) are known; None when it cannot be told for sure."""
    depth, pos, key, after_colon = 0, 0, None, False
    while True:
        m = _TOKEN.match(head, pos)
        if m is None:
            break  # the head is cut off (or not JSON): try the tail
        pos = m.end()
        token = m.group().lstrip()
        if depth == 1 and after_colon:
            if key == "id":
                return _id_value(token)
            after_colon = False
        if token in (b"{", b"["):
            if depth == 0 and token != b"{":
                return None
            depth += 1
        elif token in (b"}", b"]"):
            depth -= 1
            if depth <= 0:
                return None  # the whole object was seen: it has no id
        elif depth == 1 and token == b":":
            after_colon = True
        elif depth == 1 and token.startswith(b'"'):
            decoded = _id_value(token)
            key = decoded if isinstance(decoded, str) else None
    found = _TAIL_ID.search(tail)
    return _id_value(found.group(1)) if found is not None else None


Frame = Message | FrameError


def _ends_a_document(buf: bytearray) -> bool:
    """The last byte that is not JSON whitespace closes an object or array."""
    i = len(buf) - 1
    while i >= 0 and buf[i] in b" \t\r\n":
        i -= 1
    return i >= 0 and buf[i] in b"}]"


def _parse(body: bytes | bytearray) -> Any:
    """Raises ValueError (including UnicodeDecodeError) or RecursionError."""
    if not body or body.isspace():
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
        self._head = bytearray()  # the first ID_SCAN bytes of a skipped body
        self._tail = b""  # its last ID_SCAN bytes, so far
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
        if not _ends_a_document(self._buf):
            return []  # cannot be a whole document: don't parse a large partial body
        try:
            value = _parse(bytes(self._buf))
        except (ValueError, RecursionError):
            return []
        log.warning("A frame had fewer bytes than its Content-Length; took what came.")
        self._buf.clear()
        self._end_body()
        return [Message(value)]

    def flush_eof(self) -> list[Frame]:
        """The input ended. A body cut short is still answered: taken if it is a whole
        document (an overstated Content-Length), else a parse error for its id when that
        can be read."""
        if self._body is None:
            return []
        frame: Frame
        if self._discard:
            msg_id = read_id(bytes(self._head), self._tail + bytes(self._buf))
            frame = FrameError(INVALID_REQUEST, "Message too large; it was skipped.", msg_id)
        else:
            body = self._buf
            try:
                frame = Message(_parse(body))
            except (ValueError, RecursionError):
                frame = FrameError(
                    PARSE_ERROR,
                    "Parse error: the input ended inside a message.",
                    read_id(bytes(body[:ID_SCAN]), b""),
                )
        self._buf = bytearray()
        self._end_body()
        return [frame]

    # -- internals -----------------------------------------------------------------------

    def _end_body(self) -> None:
        self._body = None
        self._discard = False
        self._head = bytearray()
        self._tail = b""
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

    def _keep(self, dropped: bytes) -> None:
        """Remember the two ends of a body being skipped, to find its id."""
        if len(self._head) < ID_SCAN:
            self._head += dropped[: ID_SCAN - len(self._head)]
        self._tail = (self._tail + dropped)[-ID_SCAN:]

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
                end = need if stray is None else stray
                self._keep(bytes(buf[:end]))
                del buf[:end]
                msg_id = read_id(bytes(self._head), self._tail)
                self._end_body()
                out.append(
                    FrameError(
                        INVALID_REQUEST,
                        f"Message too large (over {self.max_body:,} bytes, np's limit for "
                        "one frame); it was skipped.",
                        msg_id,
                    )
                )
                return True
            drop = max(0, len(buf) - _OVERLAP)
            self._keep(bytes(buf[:drop]))
            del buf[:drop]
            self._body = need - drop
            self._scanned = len(buf)
            return False
        if stray is not None:
            body = buf[:stray]
            del buf[:stray]
            log.warning("A frame was shorter than its Content-Length; resynchronised.")
        elif len(buf) == need:  # the usual case for a large body: hand it over, no copy
            body = buf
            self._buf = bytearray()
        elif len(buf) > need:
            body = buf[:need]
            del buf[:need]
        else:
            self._scanned = len(buf)
            return False
        self._end_body()
        out.append(self._message(body))
        return True

    def _message(self, body: bytearray) -> Frame:
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
        # JSON-RPC answers a parse error with id null when the id cannot be detected; when
        # it can (a cut-off body, a stray byte in a string), answer that id: the client
        # is waiting for it.
        return FrameError(
            PARSE_ERROR,
            "Parse error: the message body is not valid JSON (or not UTF-8).",
            read_id(bytes(body[:ID_SCAN]), bytes(body[-ID_SCAN:])),
        )


class LoopReader:
    """Reads stdin on the event loop's own thread when the loop can watch it (a pipe, a
    socket, a terminal): a chunk is read when the loop is told it is there, with no thread
    to hand it over (a request wakes the server once, not a reader thread and then the
    loop). At most ``ahead`` chunks wait unread: the consumer calls :meth:`taken` per
    chunk. b"" at EOF or a read error, as :func:`pump`. :meth:`start` gives None for what
    the loop cannot watch (a regular file, ``/dev/null``): :func:`pump` reads those."""

    def __init__(
        self, fd: int, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes], ahead: int
    ) -> None:
        self.fd, self.loop, self.queue, self.ahead = fd, loop, queue, ahead
        self.watching = False
        self.done = False

    @classmethod
    def start(
        cls,
        stdin: BinaryIO,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[bytes],
        ahead: int = 4,
    ) -> LoopReader | None:
        try:
            fd = stdin.fileno()
            loop.add_reader(fd, lambda: None)  # can the loop watch it at all?
        except (OSError, ValueError, AttributeError):
            return None
        loop.remove_reader(fd)
        reader = cls(fd, loop, queue, ahead)
        reader._watch()
        return reader

    def _watch(self) -> None:
        if not self.watching and not self.done:
            self.loop.add_reader(self.fd, self._ready)
            self.watching = True

    def _unwatch(self) -> None:
        if self.watching:
            self.loop.remove_reader(self.fd)
            self.watching = False

    def _ready(self) -> None:
        try:
            data = os.read(self.fd, READ_CHUNK)  # readable: returns at once
        except (OSError, ValueError):
            data = b""
        self.queue.put_nowait(data)
        if not data:
            self.stop()
        elif self.queue.qsize() >= self.ahead:
            self._unwatch()  # until the consumer catches up

    def taken(self) -> None:
        """The consumer took a chunk: read on if fewer than ``ahead`` wait."""
        if self.queue.qsize() < self.ahead:
            self._watch()

    def stop(self) -> None:
        self.done = True
        self._unwatch()


def pump(
    stdin: BinaryIO,
    loop: asyncio.AbstractEventLoop,
    queue: asyncio.Queue[bytes],
    slots: threading.Semaphore,
) -> None:
    """Reader thread: move stdin chunks to the loop, b"" at EOF. It reads the raw file
    descriptor, so being a daemon blocked in a read never stalls interpreter exit. At most
    as many chunks as ``slots`` holds wait unread (the consumer releases one per chunk);
    nothing here is a coroutine, so a loop that ends first leaves nothing un-awaited."""
    try:
        fd: int | None = stdin.fileno()
    except (OSError, ValueError, AttributeError):
        fd = None
    while True:
        while not slots.acquire(timeout=1.0):
            if loop.is_closed():
                return
        try:
            data = os.read(fd, READ_CHUNK) if fd is not None else stdin.read1(READ_CHUNK)  # type: ignore[attr-defined]
        except (OSError, ValueError):
            data = b""
        try:
            loop.call_soon_threadsafe(queue.put_nowait, data)
        except RuntimeError:
            return  # the loop is gone
        if not data:
            return
