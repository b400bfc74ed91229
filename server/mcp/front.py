"""``np mcp``'s front: the stdio wire, answered at once while the MCP SDK loads behind it.

Hosts give an MCP server little time. Codex sends its first model request without waiting
for its servers, Claude Code says "still connecting" after about 3 s, and Cline gives
``initialize`` 3 s, then retries in the other framing. Importing the official SDK takes a
second or more on a busy machine, so ``np mcp`` does not wait for it (standard library and
:mod:`server.mcp.schema` only here; the SDK is imported while this already serves):

* A reader thread reads the client's messages from the first byte. The framing is sniffed
  per message: a ``Content-Length:`` header is an LSP-style frame (Cline's retry), anything
  else is one JSON message per line (the MCP stdio transport). Answers go out in the
  framing of the client's first message.
* A message over :data:`MAX_MESSAGE` bytes is thrown away as it streams in, never held
  whole, and answered ``-32600`` with its id when its first bytes name one (else ``null``).
* Until the SDK is ready, the front answers ``initialize``, ``tools/list`` and
  ``prompts/list`` (the handshake generation) and ``server/discover``, ``tools/list`` and
  ``prompts/list`` (2026-07-28) itself, from :mod:`server.mcp.schema`, when the request
  has the plain shape hosts send (anything else waits for the SDK). Every message, those
  included, is then handed to the SDK in order, and the SDK's own answer to a request
  already answered is dropped: the SDK's session state is exactly as if it had answered
  everything. A test holds the front's answers equal to the SDK's.
* SIGTERM, SIGINT and SIGHUP (as for np serve) end the reading, not the serving: what the
  client had already written is read, every message read is handed on, run and answered
  (as at end of input), then ``np mcp`` exits 128 + the signal's number.

The SDK keeps what it does well: the session and both protocol generations, validating
every request, ``tools/call`` dispatch, prompts, ping and the protocol's errors.
"""

from __future__ import annotations

import io
import json
import os
import re
import select
import signal
import sys
import threading
from _queue import SimpleQueue
from collections.abc import Callable

from ..exits import ProtocolOut, stdout_problem
from ..version import __version__
from . import schema

# Only for the type checker: importing typing costs start-up time before the first answer.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO

# The largest message np mcp reads, in bytes: as np serve's (server.lsp.transport.MAX_BODY),
# room for the largest legal request (a 500-task np_add, escaped) and nothing more.
MAX_MESSAGE = 128 * 1024 * 1024
READ_CHUNK = 256 * 1024
ID_SCAN = 64 * 1024  # bytes kept from the start of an oversized message to find its id
MAX_HEADER = 8 * 1024  # a Content-Length header block longer than this is garbage

HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
MODERN_VERSION = "2026-07-28"
_META = "io.modelcontextprotocol/"
INVALID_REQUEST = -32600
TOO_LARGE = (
    f"The message is over np's limit of {MAX_MESSAGE // (1024 * 1024)} MiB and was not read; "
    "send fewer tasks or shorter text per call. Nothing was done."
)
BAD_HEADER = "The Content-Length header cannot be read; nothing was done."

_SPACE = b" \t\r\n"
# Compiled when first needed (framed input, an oversized message): not on the way to the
# first answer.
_HEADER_END = rb"\r?\n\r?\n"
_LENGTH = rb"(?im)^content-length[ \t]*:[ \t]*(\d{1,18})[ \t]*\r?$"
_TOKEN = rb'\s*(?:"(?:[^"\\]|\\.)*"|[{}\[\]:,]|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)'


def head_id(head: bytes) -> int | str | None:
    """The top-level ``"id"`` of a JSON object whose first bytes are ``head``, when those
    bytes name it (a member named "id" nested in params is not it), else ``None``."""
    depth, pos, key, expect_value = 0, 0, False, False
    while pos < len(head):
        found = re.compile(_TOKEN, re.S).match(head, pos)
        if found is None:
            return None
        token, pos = found.group().strip(), found.end()
        if token in (b"{", b"["):
            depth += 1
        elif token in (b"}", b"]"):
            depth -= 1
        elif expect_value:
            if depth != 1:
                return None  # pragma: no cover - only set at depth 1
            try:
                value = json.loads(token)
            except ValueError:
                return None
            if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
                return value
            return None
        elif depth == 1 and token == b'"id"':
            key = True
            continue
        elif key and token == b":":
            expect_value = True
            continue
        key = False
    return None


class Wire:
    """The client's end of stdout: one answer at a time, from any thread, in the framing
    of the client's first message."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.framed: bool | None = None  # None until the first message is read
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        if self.framed:
            body = data.rstrip(b"\n")
            data = b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        elif not data.endswith(b"\n"):
            data += b"\n"
        with self._lock:
            self.out.write(data)
            self.out.flush()

    def error(self, request_id: int | str | None, code: int, message: str) -> None:
        reply = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
        self.write(json.dumps(reply, separators=(",", ":")) + "\n")


# One queue item: a message's text and whether the front already answered it; None ends it.
Item = tuple[str, bool] | None


class Reader:
    """Splits the client's bytes into messages (either framing), each at most
    :data:`MAX_MESSAGE` bytes, and hands each to ``deliver``; ends at end of input or when
    :meth:`stop` is called (a signal), after every message already read was delivered."""

    def __init__(self, fd: int, wire: Wire, deliver: Callable[[bytes], None]) -> None:
        self.fd = fd
        self.wire = wire
        self.deliver = deliver
        self._wake_r, self._wake_w = os.pipe()
        self.buf = bytearray()
        self.discarding = 0  # bytes of an oversized frame still to skip (Content-Length)
        self.skipping_line = False  # an oversized line: skip to its newline
        self.skipped_id: int | str | None = None

    def stop(self) -> None:
        """Stop reading (safe from a signal handler)."""
        try:
            os.write(self._wake_w, b"x")
        except OSError:  # pragma: no cover - the pipe is ours and never full
            pass

    def first_read(self) -> None:
        """One read before the reader thread starts (its bytes are there already)."""
        try:
            chunk = os.read(self.fd, READ_CHUNK)
        except OSError:
            return
        if chunk:
            self._feed(chunk)
        else:
            self.ended = True

    ended = False  # end of input was read by first_read

    def run(self) -> None:
        if self.ended:
            return
        while True:
            try:
                ready, _, _ = select.select([self.fd, self._wake_r], [], [])
            except InterruptedError:  # pragma: no cover - retried by Python itself
                continue
            if self._wake_r in ready:
                self._take_what_was_sent()
                return
            try:
                chunk = os.read(self.fd, READ_CHUNK)
            except OSError:
                return
            if not chunk:
                self._end_of_input()
                return
            self._feed(chunk)

    def _take_what_was_sent(self) -> None:
        """On a signal: the bytes the client already wrote (waiting in the pipe) are read
        and their messages answered; nothing sent after that is read."""
        taken = 0
        while taken <= MAX_MESSAGE and select.select([self.fd], [], [], 0)[0]:
            try:
                chunk = os.read(self.fd, READ_CHUNK)
            except OSError:
                return
            if not chunk:
                self._end_of_input()
                return
            taken += len(chunk)
            self._feed(chunk)

    def _end_of_input(self) -> None:
        rest = bytes(self.buf).strip()
        self.buf.clear()
        if rest and not self.discarding and not self.skipping_line:
            self.deliver(rest)  # a last line without its newline is still a message

    def _feed(self, chunk: bytes) -> None:
        if self.discarding:
            skip = min(self.discarding, len(chunk))
            self.discarding -= skip
            chunk = chunk[skip:]
            if self.discarding:
                return
            self.wire.error(self.skipped_id, INVALID_REQUEST, TOO_LARGE)
        if self.skipping_line:
            end = chunk.find(b"\n")
            if end < 0:
                return
            self.skipping_line = False
            self.wire.error(self.skipped_id, INVALID_REQUEST, TOO_LARGE)
            chunk = chunk[end + 1 :]
        searched = len(self.buf)
        self.buf += chunk
        while self.buf:
            taken = self._one(searched)
            if taken is None:
                return
            searched = 0
            if self.discarding or self.skipping_line:
                return

    def _one(self, searched: int) -> bool | None:
        """Take one message off the buffer; None when more bytes are needed first."""
        buf = self.buf
        start = 0
        while start < len(buf) and buf[start] in _SPACE:
            start += 1
        if start == len(buf):
            buf.clear()
            return None
        if buf[start] in b"cC" and b"content-length".startswith(
            bytes(buf[start : start + 14]).lower()
        ):
            return self._framed(start)
        end = buf.find(b"\n", max(start, searched))
        if end < 0:
            if len(buf) - start > MAX_MESSAGE:
                self._skip_line(start)
            return None
        self._set_framing(False)
        message = bytes(buf[start:end])
        del buf[: end + 1]
        if message.strip():
            self.deliver(message)
        return True

    def _skip_line(self, start: int) -> None:
        self.skipped_id = head_id(bytes(self.buf[start : start + ID_SCAN]))
        self.buf.clear()
        self.skipping_line = True

    def _framed(self, start: int) -> bool | None:
        buf = self.buf
        header_end = re.compile(_HEADER_END).search(buf, start, start + MAX_HEADER)
        if header_end is None:
            if len(buf) - start > MAX_HEADER:  # not a header after all: a line to skip
                end = buf.find(b"\n", start)
                self.wire.error(None, INVALID_REQUEST, BAD_HEADER)
                if end < 0:
                    self.buf.clear()
                    self.skipped_id = None
                    self.skipping_line = True
                    return None
                del buf[: end + 1]
                return True
            return None
        self._set_framing(True)
        length = re.compile(_LENGTH).search(bytes(buf[start : header_end.start()]) + b"\n")
        body_start = header_end.end()
        if length is None:
            del buf[:body_start]
            self.wire.error(None, INVALID_REQUEST, BAD_HEADER)
            return True
        size = int(length.group(1))
        if size > MAX_MESSAGE:
            self.skipped_id = head_id(bytes(buf[body_start : body_start + ID_SCAN]))
            have = len(buf) - body_start
            del buf[:body_start]
            if have >= size:
                del buf[:size]
                self.wire.error(self.skipped_id, INVALID_REQUEST, TOO_LARGE)
                return True
            buf.clear()
            self.discarding = size - have
            return None
        if len(buf) - body_start < size:
            return None
        message = bytes(buf[body_start : body_start + size])
        del buf[: body_start + size]
        self.deliver(message)
        return True

    def _set_framing(self, framed: bool) -> None:
        if self.wire.framed is None:
            self.wire.framed = framed


def _plain_info(info: object) -> bool:
    return (
        isinstance(info, dict)
        and isinstance(info.get("name"), str)
        and isinstance(info.get("version"), str)
        and set(info) <= {"name", "version", "title", "description", "websiteUrl"}
        and all(isinstance(v, str) for v in info.values())
    )


def _plain_params(params: object) -> bool:
    """No params, or only a progress token (Codex sends ``{"_meta": {"progressToken": 0}}``)."""
    if params is None or params == {}:
        return True
    if not isinstance(params, dict) or set(params) != {"_meta"}:
        return False
    meta = params["_meta"]
    return isinstance(meta, dict) and set(meta) <= {"progressToken"}


def _plain_capabilities(caps: object) -> bool:
    return isinstance(caps, dict) and all(isinstance(v, dict) for v in caps.values())


class Front:
    """Early answers and the hand-over to the SDK (see the module's docstring)."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.queue: SimpleQueue[Item] = SimpleQueue()
        self.sdk_ready = False
        self.era: str | None = None  # "handshake" or "modern": the first request decides
        self.initialized = False  # the front answered initialize, and initialized was read
        self.answered_initialize = False
        self.signal: int | None = None

    def deliver(self, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="surrogateescape")
        answered = False
        if not self.sdk_ready and len(raw) < ID_SCAN:
            try:
                answered = self._answer(text)
            except Exception:  # never: the SDK answers whatever the front cannot
                answered = False
        self.queue.put((text + "\n", answered))

    def end(self) -> None:
        self.queue.put(None)

    # -- early answers -------------------------------------------------------------------

    def _answer(self, text: str) -> bool:
        try:
            message = json.loads(text)
        except ValueError:
            return False
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return False
        method, params = message.get("method"), message.get("params")
        if method == "notifications/initialized":
            self.initialized = self.answered_initialize
            return False
        request_id = message.get("id")
        if not isinstance(method, str) or not (
            isinstance(request_id, str)
            or (isinstance(request_id, int) and not isinstance(request_id, bool))
        ):
            return False
        modern = _modern(params)
        era = "modern" if modern else "handshake"
        first = self.era is None
        if first:
            self.era = era
        result = self._result(method, params, modern, first, era)
        if result is None:
            return False
        reply = {"jsonrpc": "2.0", "id": request_id, "result": result}
        self.wire.write(json.dumps(reply, ensure_ascii=False, separators=(",", ":")) + "\n")
        return True

    def _result(
        self, method: str, params: Any, modern: bool, first: bool, era: str
    ) -> dict[str, Any] | None:
        if era != self.era:
            return None
        if modern:
            if set(params) != {"_meta"}:
                return None
            stamp = {_META + "serverInfo": {"name": "np", "version": __version__}}
            if method == "server/discover":
                return {
                    "cacheScope": "private",
                    "capabilities": _CAPABILITIES,
                    "instructions": schema.INSTRUCTIONS,
                    "resultType": "complete",
                    "supportedVersions": [MODERN_VERSION],
                    "ttlMs": 0,
                    "_meta": stamp,
                }
            if method == "prompts/list":
                return {
                    "cacheScope": "private",
                    "prompts": [_PROMPT],
                    "resultType": "complete",
                    "ttlMs": 0,
                    "_meta": stamp,
                }
            if method == "tools/list":
                return {
                    "cacheScope": "public",
                    "resultType": "complete",
                    "tools": schema.TOOLS,
                    "ttlMs": 3_600_000,
                    "_meta": stamp,
                }
            return None
        if method == "initialize" and first:
            if not (
                isinstance(params, dict)
                and set(params) <= {"protocolVersion", "capabilities", "clientInfo"}
                and isinstance(params.get("protocolVersion"), str)
                and _plain_capabilities(params.get("capabilities"))
                and _plain_info(params.get("clientInfo"))
            ):
                return None
            asked = params["protocolVersion"]
            self.answered_initialize = True
            return {
                "capabilities": _CAPABILITIES,
                "instructions": schema.INSTRUCTIONS,
                "protocolVersion": asked if asked in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[-1],
                "serverInfo": {"name": "np", "version": __version__},
            }
        if not self.initialized or not _plain_params(params):
            return None
        if method == "tools/list":
            return {"tools": schema.TOOLS}
        if method == "prompts/list":
            return {"prompts": [_PROMPT]}
        return None


_CAPABILITIES = {"prompts": {"listChanged": False}, "tools": {"listChanged": False}}
_PROMPT = {"description": schema.PROMPT_DESCRIPTION, "name": schema.PROMPT_NAME}


def _modern(params: object) -> bool:
    """Whether ``params`` carry the 2026-07-28 envelope, in the plain shape hosts send."""
    meta = params.get("_meta") if isinstance(params, dict) else None
    if not isinstance(meta, dict) or _META + "protocolVersion" not in meta:
        return False
    return (
        meta.get(_META + "protocolVersion") == MODERN_VERSION
        and _plain_info(meta.get(_META + "clientInfo"))
        and _plain_capabilities(meta.get(_META + "clientCapabilities"))
        and set(meta)
        <= {_META + "protocolVersion", _META + "clientInfo", _META + "clientCapabilities"}
    )


def _dup_or_null(fd: int, flags: int) -> int:
    """A private copy of ``fd``, or a fresh handle on /dev/null when ``fd`` is closed."""
    try:
        return os.dup(fd)
    except OSError:
        return os.open(os.devnull, flags)


def claim_stdio() -> tuple[BinaryIO, BinaryIO, Callable[[], None]]:
    """Private handles on the real stdin and stdout, with fd 0 pointed at ``/dev/null`` and
    fd 1 at stderr; the returned function puts them back."""
    sys.stdout.flush()
    saved: list[tuple[int, int]] = []
    # A closed stdin is a client that sends nothing, a closed stdout one that reads nothing:
    # /dev/null stands in for either (opened into the closed number itself, as
    # server.cli.output.setup_streams does).
    in_fd = _dup_or_null(0, os.O_RDONLY)
    out_fd = _dup_or_null(1, os.O_WRONLY)
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


class Started:
    """A running front: the reader thread, the signal handlers, the queue for the SDK."""

    def __init__(self, raw_in: BinaryIO, raw_out: BinaryIO) -> None:
        self.wire = Wire(raw_out)
        self.front = Front(self.wire)
        self.reader = Reader(raw_in.fileno(), self.wire, self.front.deliver)
        self._previous: dict[int, Any] = {}
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            try:
                self._previous[signum] = signal.signal(signum, self._on_signal)
            except ValueError:  # pragma: no cover - not the main thread (in-process tests)
                pass
        # A host writes initialize as soon as it has spawned np: when it is there already,
        # answer it on this thread, before starting the reader and loading anything.
        if select.select([self.reader.fd], [], [], 0)[0]:
            self.reader.first_read()
        self.thread = threading.Thread(target=self._read, name="np-mcp-reader", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            self.reader.run()
        finally:
            self.front.end()

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.front.signal is None:
            self.front.signal = signum
        waits = sys.modules.get("store.settings")  # not loaded yet: no write can be waiting
        if waits is not None:
            waits.stop_waiting()  # a write waiting for another process's lock: answered now
        self.reader.stop()

    def sdk_ready(self) -> None:
        """From now on the SDK answers everything."""
        self.front.sdk_ready = True

    def restore_signals(self) -> None:
        for signum, handler in self._previous.items():
            try:
                signal.signal(signum, handler)
            except (ValueError, TypeError):  # pragma: no cover
                pass

    def exit_code(self, code: int) -> int:
        """``code``, or 128 + the signal's number when a signal ended the serving."""
        return 128 + self.front.signal if self.front.signal is not None and code == 0 else code


class Claimed:
    """stdin and stdout taken for the protocol, and the front serving them."""

    def __init__(self) -> None:
        # Held for the process's life: collecting them would close the descriptors.
        self.raw_in, self.raw_out, self.restore = claim_stdio()
        # says why it failed, when it fails
        self.out = ProtocolOut(io.FileIO(self.raw_out.fileno(), "wb", closefd=False))
        # The front answers while the rest loads on the main thread, which holds the
        # interpreter lock: switch threads often until the SDK is in.
        self.interval = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)
        self.started = Started(self.raw_in, self.out)

    def loaded(self) -> None:
        sys.setswitchinterval(self.interval)

    def release(self) -> None:
        self.started.restore_signals()
        self.restore()


_CLAIMED: list[Claimed] = []  # at most one per process


def prestart() -> None:
    """Start serving now, before the CLI parses the arguments (``server.main``); a no-op
    when stdout cannot carry the protocol (``np mcp`` then says why)."""
    if not _CLAIMED and stdout_problem() is None:
        _CLAIMED.append(Claimed())


def claimed() -> Claimed:
    """The front started by :func:`prestart`, else one started now."""
    if not _CLAIMED:
        _CLAIMED.append(Claimed())
    return _CLAIMED[0]


def not_started() -> bool:
    return not _CLAIMED
