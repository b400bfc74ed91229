"""stdio for ``np mcp``: the process's own descriptors, and a drain before end of input.

The SDK's ``stdio_server`` cancels every request still in flight when stdin ends and answers
it "Connection closed", even when its write has already committed. A client that sends its
last requests and closes its end (a script, a host shutting down) would then read a failure
for a change that was made. So np hands ``stdio_server`` streams of its own:

* the input yields each message :mod:`server.mcp.front` read, and at end of input (or after
  SIGTERM/SIGINT) waits (up to :data:`DRAIN_SECONDS`) until every request it passed on has
  been answered; only then does the SDK see the end.
* ``notifications/cancelled`` for a ``tools/call`` is not passed on: the SDK would abandon
  the call while np's database thread carries it out, and a write would commit unanswered.
  The call runs and its true result is sent (the spec lets a server answer a request it
  could not stop; the client ignores it). Cancels of other requests (reads of the protocol
  itself) are passed on, and such a request is not waited for.
* the output notes each answer's id as it is written, and drops the SDK's answer to a
  request the front already answered before the SDK was loaded.

Every request gets an answer, whatever its bytes (the SDK drops what its parser cannot
read, and never answers it). So the input reads each line itself first:

* a line that is not JSON is answered ``-32700`` with ``"id": null``; a batch (MCP has none
  since 2025-06-18) ``-32600`` with each id that can be read in it (else ``null``); a JSON
  value that is not a message MCP can read ``-32600`` (or ``-32602`` for its params) with
  its id when it has one. Each answer is a sentence with the next step.
* text that cannot be UTF-8 (a byte that is not UTF-8, or half a JSON surrogate pair, which
  the SDK's parser refuses) is passed on with each such character as U+FFFD, and the
  request's own params are kept (:attr:`Pending.originals`) so that ``tools/call`` checks
  the arguments as sent and answers ``invalid_argument`` naming the field.
* the SDK answers a request before the handshake, and params it cannot validate, with a
  blank ``-32602 Invalid request parameters``; the output words it as a sentence naming the
  method (the code stays: MCP reserves ``-32002``, never to be reused).

File descriptors 0 and 1 are pointed at ``/dev/null`` and stderr while serving (as the SDK
does for its own streams), so a stray ``print`` or a child process cannot corrupt the stream.
"""

from __future__ import annotations

import json
import queue
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import anyio
import mcp_types as types

from store.text import first_ill_formed

from .front import Started, Wire

DRAIN_SECONDS = 30.0  # the longest end of input waits for answers (busy retries included)
_POLL = 0.005
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
MODERN_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
_SDK_BLANK = "Invalid request parameters"  # the SDK's wording for both cases it covers
NOT_JSON = (
    "Parse error: the line is not JSON; send one JSON-RPC message per line, UTF-8 encoded. "
    "Nothing was done."
)
BATCH = "Batches are not supported; send each message on a line of its own. Nothing was done."
TOO_DEEP = "The message is nested too deeply to read; nothing was done."


def _key(request_id: object) -> str:
    return json.dumps(request_id, sort_keys=True)


class Pending:
    """Requests read from the client and not answered yet, by id."""

    def __init__(self) -> None:
        self.open: Counter[str] = Counter()
        # Per open request: its method, and whether it came before the handshake.
        self.methods: dict[str, tuple[str, bool]] = {}
        # The params as sent of a request whose text had to be mended for the SDK.
        self.originals: dict[str, Any] = {}
        self.handshake = False  # initialize or notifications/initialized was read
        self.initialize_failed = False
        self.answered: Counter[str] = Counter()  # answered by the front: drop the SDK's

    def read(self, message: dict[str, Any], answered: bool = False) -> bool:
        """Note a message read; returns whether to pass it on to the SDK. ``answered``: the
        front already answered this request (the SDK's answer is to be dropped)."""
        method = message.get("method")
        if answered and "id" in message:
            self.answered[_key(message["id"])] += 1
        if "id" in message and isinstance(method, str):
            key = _key(message["id"])
            self.open[key] += 1
            params = message.get("params")
            meta = params.get("_meta") if isinstance(params, dict) else None
            modern = isinstance(meta, dict) and MODERN_VERSION_KEY in meta
            self.methods[key] = (method, not (self.handshake or modern))
            if method == "initialize":
                self.handshake = True
                self.initialize_failed = False
        elif method == "notifications/initialized":
            self.handshake = True
        elif method == "notifications/cancelled":
            params = message.get("params")
            if isinstance(params, dict) and "requestId" in params:
                key = _key(params["requestId"])
                if self.methods.get(key, ("", False))[0] == "tools/call":
                    return False  # carried out and truly answered (see the module)
                self._settle(params["requestId"])
        return True

    def written(self, line: str) -> str:
        """Note an answer about to be written; returns the line to write (the SDK's blank
        ``-32602`` reworded), or "" for an answer the front already sent."""
        # Only answers (a result or an error with an id) settle a request.
        if '"result"' not in line and '"error"' not in line:
            return line
        try:
            message = json.loads(line)
        except ValueError:
            return line
        if isinstance(message, dict) and "method" not in message and "id" in message:
            key = _key(message["id"])
            if self.answered[key] > 0:
                self.answered[key] -= 1
                if self.answered[key] <= 0:
                    del self.answered[key]
                self._settle(message["id"])
                return ""
            method, early = self.methods.get(key, ("", False))
            if method == "initialize" and "error" in message:
                self.initialize_failed = True
            error = message.get("error")
            if (
                isinstance(error, dict)
                and error.get("message") == _SDK_BLANK
                and not error.get("data")
            ):
                error["message"] = self._blank(method, early or self.initialize_failed)
                error["data"] = {"method": method}
                line = json.dumps(message, separators=(",", ":")) + "\n"
            self._settle(message["id"])
        return line

    @staticmethod
    def _blank(method: str, early: bool) -> str:
        if early:
            return (
                f"The server is not initialized; send initialize (then "
                f"notifications/initialized) before {method or 'other requests'}. "
                "Nothing was done."
            )
        return (
            f"The params of {method or 'this request'} do not have the shape MCP defines "
            "for it; nothing was done."
        )

    def _settle(self, request_id: object) -> None:
        key = _key(request_id)
        if self.open[key] > 0:
            self.open[key] -= 1
        if self.open[key] <= 0:
            del self.open[key]
            self.methods.pop(key, None)
            self.originals.pop(key, None)

    def original_params(self, request_id: object) -> Any:
        """The params as sent of request ``request_id`` when its text had to be mended
        (characters that cannot be UTF-8 became U+FFFD for the SDK), else ``None``."""
        return self.originals.get(_key(request_id))

    async def drained(self, seconds: float = DRAIN_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        while self.open and time.monotonic() < deadline:
            await anyio.sleep(_POLL)


def _readable_id(message: object) -> int | str | None:
    if isinstance(message, dict):
        value = message.get("id")
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return value
    return None


def _mend(value: Any) -> Any:
    """``value`` with every character that cannot be UTF-8 (in keys and strings) as U+FFFD."""
    if isinstance(value, str):
        if first_ill_formed(value) is None:
            return value
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    if isinstance(value, list):
        return [_mend(v) for v in value]
    if isinstance(value, dict):
        return {_mend(k): _mend(v) for k, v in value.items()}
    return value


def _ill_formed(value: Any) -> bool:
    if isinstance(value, str):
        return first_ill_formed(value) is not None
    if isinstance(value, list):
        return any(_ill_formed(v) for v in value)
    if isinstance(value, dict):
        return any(_ill_formed(k) or _ill_formed(v) for k, v in value.items())
    return False


def _unreadable(message: object) -> tuple[int, str]:
    """Why the SDK cannot read ``message`` (a JSON value): the code and the sentence."""
    if not isinstance(message, dict):
        return INVALID_REQUEST, "A message must be a JSON object. Nothing was done."
    if "id" in message and _readable_id(message) is None and message.get("id") is not None:
        return INVALID_REQUEST, "The id must be a string or an integer. Nothing was done."
    if message.get("jsonrpc") != "2.0":
        return INVALID_REQUEST, 'The message needs "jsonrpc": "2.0". Nothing was done.'
    method = message.get("method")
    if method is None:
        return INVALID_REQUEST, "A request needs a method. Nothing was done."
    if not isinstance(method, str):
        return INVALID_REQUEST, "The method must be a string. Nothing was done."
    if "params" in message and not isinstance(message["params"], dict | None):
        return (
            INVALID_PARAMS,
            f"The params of {method[:80]} must be a JSON object. Nothing was done.",
        )
    return (
        INVALID_REQUEST,
        "The message is not a JSON-RPC 2.0 request MCP can read. Nothing was done.",
    )


class Input:
    """The client's lines, as ``stdio_server`` reads them (``async for line in stdin``);
    lines the SDK could not read are answered here (through ``output``) and not passed on."""

    def __init__(self, started: Started, pending: Pending, output: Output) -> None:
        # Each message as the front read it; bytes that are not UTF-8 stay recognisable
        # (PEP 383), to be refused by field.
        self._started = started
        self._pending = pending
        self._output = output
        self._answered = False  # the message being checked was answered by the front

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        messages = self._started.front.queue
        while True:
            try:
                item = messages.get_nowait()
            except queue.Empty:
                item = await anyio.to_thread.run_sync(messages.get, abandon_on_cancel=True)
            if item is None:
                break
            line, answered = item
            if not line.strip():
                continue
            self._answered = answered
            forward = await self._check(line)
            if forward is not None:
                yield forward
        await self._pending.drained()

    async def _check(self, line: str) -> str | None:
        """The line to pass on to the SDK (``line`` itself, or mended), or ``None`` when it
        was answered here."""
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            await self._output.error(None, PARSE_ERROR, NOT_JSON)
            return None
        try:
            return await self._checked(line, message)
        except RecursionError:  # walking a message nested near Python's limit
            await self._output.error(_readable_id(message), INVALID_REQUEST, TOO_DEEP)
            return None

    async def _checked(self, line: str, message: Any) -> str | None:
        if isinstance(message, list):
            ids: list[int | str | None] = [i for i in map(_readable_id, message) if i is not None]
            for batched in ids or [None]:
                await self._output.error(batched, INVALID_REQUEST, BATCH)
            return None
        suspect = "\\ud" in line or "\\uD" in line or not line.isascii()
        if suspect and isinstance(message, dict) and _ill_formed(message):
            if "id" in message and "method" in message:
                self._pending.originals[_key(_mend(message["id"]))] = message.get("params")
            message = _mend(message)
            line = json.dumps(message, ensure_ascii=False) + "\n"
        try:
            types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        except Exception:  # the SDK would drop it unanswered
            self._pending.originals.pop(_key(_readable_id(message)), None)
            if isinstance(message, dict) and ("result" in message or "error" in message):
                return None  # an answer to us that cannot be read: nothing to answer
            if isinstance(message, dict) and "id" not in message:
                return None  # a notification: never answered
            code, sentence = _unreadable(message)
            await self._output.error(_readable_id(message), code, sentence)
            return None
        if isinstance(message, dict) and not self._pending.read(message, self._answered):
            return None
        return line


class Output:
    """What ``stdio_server`` writes to (``write`` then ``flush`` per message)."""

    def __init__(self, wire: Wire, pending: Pending) -> None:
        self._wire = wire  # the front's: it writes its early answers there too
        self._pending = pending

    async def write(self, text: str) -> int:
        text = self._pending.written(text)
        if text:  # a thread, so a client that does not read never stalls the loop
            await anyio.to_thread.run_sync(self._wire.write, text)
        return len(text)

    async def error(self, request_id: int | str | None, code: int, message: str) -> None:
        """Answer a line the SDK never sees: a JSON-RPC error (``id`` null if unreadable)."""
        await anyio.to_thread.run_sync(self._wire.error, request_id, code, message)

    async def flush(self) -> None:
        """Every write is flushed as it is made."""


def streams(started: Started) -> tuple[Any, Any, Pending]:
    """The input and output to hand ``stdio_server``, and the :class:`Pending` they share."""
    pending = Pending()
    output = Output(started.wire, pending)
    return Input(started, pending, output), output, pending
