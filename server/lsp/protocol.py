"""pygls' LSP protocol with the holes that matter to np closed.

Every request gets a response (malformed envelopes, unserialisable results, requests after
``shutdown``), errors never carry tracebacks and long strings in them are capped, finished
handler futures are released, and results that are plain JSON skip pygls' converter.

The lifecycle is kept by the order messages are *read*, not by when handlers finish, so a
client that writes its whole conversation at once is served exactly like one that waits
for each answer: requests before ``initialize`` get -32002, a second ``initialize`` and
anything after ``shutdown`` get -32600, and ``exit`` ends the process only after every
request read before it has been answered. A notification method sent with an id
(``initialized``, ``$/cancelRequest``, ``exit``…) is answered -32600 and not acted on, and a
request pygls drops without answering is answered -32603, so nothing can leave the drain
waiting. ``$/cancelRequest`` withdraws a command only
while it has not started; a started unit of work finishes and its result is sent.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import itertools
import json
import logging
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol, lsp_method

from server.commands import COMMANDS
from server.commands.spool import Spooled
from server.text.hints import with_hint
from store import InvalidArgument, NpError
from store.text import printable, shorten

from .transport import INVALID_REQUEST, Frame, FrameError

log = logging.getLogger("np.serve")

# Every private pygls name this package relies on, in one place. pygls 2.x gives no public way
# to do these things; tests/server/test_pygls_contract.py checks each still exists with the
# parameters below, so a pygls upgrade that renames or reshapes one fails there, by name,
# instead of as a hang or a lost answer. Each entry: (owner, name, what, parameters, upstream).
# ``what`` is "method" (parameters are checked), "attribute" (set in ``__init__``) or
# "log" (a message text we filter on, looked up in the owner's source).
PYGLS_PRIVATE: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "pygls.protocol.json_rpc:JsonRPCProtocol",
        "_send_data",
        "method",
        "self, data",
        # Overridden: bytes-exact Content-Length, an answer for an unserialisable result, a
        # closed stdout stops the server. https://github.com/openlawlibrary/pygls/issues/604
        # and https://github.com/openlawlibrary/pygls/issues/179
        "openlawlibrary/pygls#604, #179",
    ),
    (
        "pygls.protocol.json_rpc:JsonRPCProtocol",
        "_send_response",
        "method",
        "self, msg_id, result=, error=",
        # Overridden: no traceback in error data, capped strings, plain dicts skip cattrs.
        # https://github.com/openlawlibrary/pygls/issues/277
        "openlawlibrary/pygls#277",
    ),
    (
        "pygls.protocol.json_rpc:JsonRPCProtocol",
        "_execute_handler",
        "method",
        "self, msg_id, handler, callback, args=, kwargs=",
        # Overridden: release executeCommand's inner futures (no upstream issue found for the
        # leak) and absorb a cancelled inner future during shutdown.
        # https://github.com/openlawlibrary/pygls/issues/587
        "openlawlibrary/pygls#587 (cancellation); the leak: no upstream issue found",
    ),
    (
        "pygls.protocol.json_rpc:JsonRPCProtocol",
        "_run_generator",
        "method",
        "self, future, *, gen, result_future",
        # Relied on: the callback _execute_handler gets is a partial carrying
        # ``result_future``, which the override cancels. https://github.com/openlawlibrary/pygls/issues/587
        "openlawlibrary/pygls#587",
    ),
    (
        "pygls.protocol.json_rpc:JsonRPCProtocol",
        "_serialize_message",
        "method",
        "self, data",
        # Used as json.dumps' default in _send_data, as pygls does. No upstream issue.
        "no upstream issue",
    ),
    (
        "pygls.protocol.json_rpc:JsonRPCProtocol",
        "_request_futures",
        "attribute",
        "",
        # Read in _execute_handler; and in _dispatch and _answer_orphans, where a request in
        # flight with no unfinished future here is one nothing will answer.
        # https://github.com/openlawlibrary/pygls/issues/606 (and #608 for its sibling)
        "openlawlibrary/pygls#606, #608",
    ),
    (
        "pygls.protocol.json_rpc:JsonRPCProtocol",
        "_shutdown",
        "attribute",
        "",
        # Read in handle_frame, set in lsp_shutdown. https://github.com/openlawlibrary/pygls/issues/606
        "openlawlibrary/pygls#606",
    ),
    (
        "pygls.server:JsonRPCServer",
        "_stop_event",
        "attribute",
        "",
        # Set by NpServer.start_io, which replaces pygls' reader. No upstream issue found.
        "no upstream issue",
    ),
    (
        "pygls.protocol.language_server:LanguageServerProtocol",
        "lsp_shutdown",
        "method",
        "self, *args",
        # Public name, private protocol (a generator pygls drives): overridden so that it
        # cancels nothing (a cancelled future is answered -32800 while its unit of work may
        # still commit). https://github.com/openlawlibrary/pygls/issues/606
        "openlawlibrary/pygls#606",
    ),
    (
        "pygls.protocol.json_rpc:JsonRPCProtocol",
        "_handle_cancel_notification",
        "method",
        "self, msg_id",
        # Overridden: pygls cancels the request's future at once, even when the command's
        # unit of work runs on and commits; np withdraws only work not yet started.
        # https://github.com/openlawlibrary/pygls/issues/517 (cancelled requests still run)
        "openlawlibrary/pygls#517",
    ),
    (
        "pygls.protocol.language_server:LanguageServerProtocol",
        "lsp_workspace__execute_command",
        "method",
        "self, params",
        # Overridden: unknown command → invalid_argument, no per-call signature inspection.
        # https://github.com/openlawlibrary/pygls/issues/548
        "openlawlibrary/pygls#548",
    ),
    (
        "pygls.protocol.json_rpc:JsonRPCProtocol",
        "_handle_request",
        "method",
        "self, msg_id, method_name, params",
        # Overridden: an np command read as plain JSON starts its handler directly (see
        # _dispatch). Tests replace it for one id to simulate a request pygls drops
        # without answering (F5: a notification method sent with an id was one), which
        # _dispatch must answer. No upstream issue.
        "no upstream issue",
    ),
    (
        "pygls.protocol.json_rpc:JsonRPCProtocol",
        "_send_handler_result",
        "method",
        "self, future, *, msg_id",
        # Answers an np command started directly (_handle_request). Tests replace it for
        # one id to simulate a handler that ends unanswered, which the drain
        # (_answer_orphans) must answer. No upstream issue.
        "no upstream issue",
    ),
    (
        "pygls.protocol.json_rpc:JsonRPCProtocol",
        "_ctx_msg_id",
        "attribute",
        "",
        # The request id pygls' ``msg_id`` reads; set for an np command started directly.
        # No upstream issue.
        "no upstream issue",
    ),
    (
        "pygls.protocol.json_rpc:JsonRPCProtocol",
        "Unable to deserialize message",
        "log",
        "",
        # The log text NpServer's _QuietDeserialiseErrors filters (the dispatcher answers
        # -32602 itself). No pygls issue; see astral-sh/ruff-vscode#154 for the noise.
        "no upstream issue",
    ),
)

# Every LSP method that is a notification (its message type has no ``id``), in either
# direction. Sent *with* an id it is a request nobody answers: pygls structures it as the
# notification and drops the id. np answers it -32600 instead, and does not act on it.
NOTIFICATIONS = frozenset(
    method
    for method, (message_type, *_) in types.METHOD_TO_TYPES.items()
    if message_type is not None and "id" not in attrs.fields_dict(message_type)
)
_COMMAND_KEYS = frozenset({"command", "arguments"})
ORPHAN_TICK = 1.0  # seconds between checks, while draining, for requests nobody will answer

INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002
REQUEST_CANCELLED = -32800
ERROR_TEXT_MAX = 1000  # error messages and data strings are capped on the wire


def rpc_error(exc: NpError) -> JsonRpcException:
    """A store or argument error as JSON-RPC: the message carries the JSON door's next step
    (fields and ``np.*`` commands, ``server.text.hints``); ``data.detail`` is the neutral
    sentence alone, for editors that show their own command names."""
    data = {**exc.to_dict()["data"], "detail": exc.message}
    message = with_hint(exc.message, "json", exc.kind, exc.data)
    return JsonRpcException(message=message, code=exc.code, data=data)


def _not_an_array(params: dict[str, Any]) -> bool:
    """``workspace/executeCommand`` params whose ``arguments`` are there, not null, and not
    an array."""
    arguments = params.get("arguments")
    return arguments is not None and not isinstance(arguments, list)


def _valid_id(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _cap(value: Any, depth: int = 0) -> Any:
    """Long strings in error data are cut (a 2 MB sid must not come back 2 MB long)."""
    if isinstance(value, str):
        return shorten(printable(value), ERROR_TEXT_MAX + 1)
    if depth < 4 and isinstance(value, dict):
        return {k: _cap(v, depth + 1) for k, v in value.items()}
    if depth < 4 and isinstance(value, list):
        return [_cap(v, depth + 1) for v in value[:100]]
    return value


class ExitRequested(Exception):
    """The client sent ``exit``: stop reading, answer what was read, end with ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class NpProtocol(LanguageServerProtocol):
    """pygls' LSP protocol with the holes that matter here closed: every request gets a
    response, errors never carry tracebacks, and finished handler futures are released."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Transport state lives here, where a closed stdout is detected; the server above
        # subscribes through ``on_client_lost`` (this module never names the server).
        self.client_lost = False
        self.on_client_lost: Callable[[], None] | None = None
        # ``$/cancelRequest`` for a command: the server withdraws its job if it has not
        # started (True), or cannot (False), or it has none yet (None).
        self.on_cancel: Callable[[Any], bool | None] | None = None
        self.initialize_seen = False  # an initialize request was read (and understood)
        self.shutdown_seen = False  # a shutdown request was read
        # The signal that is stopping the server (``"SIGTERM"``): requests read after it
        # are answered "not carried out" instead of being run.
        self.stopping: str | None = None
        self.inflight: dict[Any, str] = {}  # id -> method of each request read, unanswered
        self._answered = asyncio.Event()  # set whenever a request in flight is answered
        self._cancelled: set[Any] = set()  # commands cancelled before their handler ran
        # Requests whose answer reports a commit of this server's own: right after that
        # answer, ``on_write_answered`` is called (the server polls its change feed), and
        # what it sends goes out with the answer, in one write to stdout.
        self.wrote: set[Any] = set()
        self.on_write_answered: Callable[[], None] | None = None
        self._cork: list[bytes] | None = None  # messages held for one write, when set

    def lose_client(self, why: str) -> None:
        """Stop writing for good (the client went away) and tell the subscriber once."""
        if not self.client_lost:
            log.warning("stopping: %s", why)
            self.client_lost = True
            if self.on_client_lost is not None:
                self.on_client_lost()

    async def wait_answered(self, timeout: float, exclude: Any = None) -> bool:
        """Wait until every request read so far (but ``exclude``) has been answered; False
        when ``timeout`` seconds passed first."""
        deadline = asyncio.get_running_loop().time() + timeout
        suspects: set[Any] = set()
        while any(key != exclude for key in self.inflight):
            self._answered.clear()
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            try:
                async with asyncio.timeout(min(left, ORPHAN_TICK)):
                    await self._answered.wait()
            except TimeoutError:
                suspects = self._answer_orphans(suspects, exclude)
        return True

    def _answer_orphans(self, suspects: set[Any], exclude: Any) -> set[Any]:
        """Requests in flight whose handler is gone (no future, or a finished one) at two
        checks in a row will never be answered by it: answer them, so a drain cannot wait
        for them. Returns this check's suspects, for the next."""
        now = set()
        for msg_id in list(self.inflight):
            future = self._request_futures.get(msg_id)
            if msg_id != exclude and (future is None or future.done()):
                now.add(msg_id)
        for msg_id in now & suspects:
            method = self.inflight.get(msg_id, "a request")
            log.error("request %r (%s) finished without an answer; answering it", msg_id, method)
            self.send_error(
                msg_id,
                INTERNAL_ERROR,
                f"Internal error: {method} ended without an answer; what it did is unknown. "
                "Read the plan with np.plan before repeating it.",
                {"kind": "internal_error"},
                settles=True,
            )
        return now - suspects

    def _answer(self, msg_id: Any) -> None:
        self.wrote.discard(msg_id)
        if self.inflight.pop(msg_id, None) is not None:
            self._cancelled.discard(msg_id)
            self._answered.set()

    def take_cancel(self, msg_id: Any) -> bool:
        """True (once) when ``$/cancelRequest`` for ``msg_id`` came before its handler ran."""
        if msg_id in self._cancelled:
            self._cancelled.discard(msg_id)
            return True
        return False

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        """pygls cancels the request's future at once, even when the command's unit of
        work is already running and will commit: the client hears "cancelled", retries,
        and the write is doubled. Here a command is withdrawn only while it has written
        nothing (not started); otherwise it finishes and its result is sent. Other
        requests are short and are simply answered."""
        if self.inflight.get(msg_id) != types.WORKSPACE_EXECUTE_COMMAND:
            log.info("$/cancelRequest for %r: not a command in flight; ignored", msg_id)
            return
        withdrawn = self.on_cancel(msg_id) if self.on_cancel is not None else None
        if withdrawn is None:  # its handler has not run yet: it will see this
            self._cancelled.add(msg_id)

    # -- incoming ----------------------------------------------------------------------

    def handle_frame(self, frame: Frame) -> None:
        """Validate one frame's JSON-RPC envelope, then hand it to pygls. ``exit`` raises
        :class:`ExitRequested` out of here."""
        if isinstance(frame, FrameError):
            log.warning("skipped a frame: %s", frame.message)
            self.send_error(frame.id, frame.code, frame.message)
            return
        data = frame.value
        if isinstance(data, list):
            self.send_error(None, INVALID_REQUEST, "Batches are not supported; send one message.")
            return
        if not isinstance(data, dict):
            self.send_error(None, INVALID_REQUEST, "A message must be a JSON object.")
            return
        has_id = "id" in data
        msg_id = data.get("id")
        if has_id and not _valid_id(msg_id):
            self.send_error(None, INVALID_REQUEST, "The id must be a string or an integer.")
            return
        reply_to = msg_id if has_id else None
        if data.get("jsonrpc") != "2.0":
            self._reject(has_id, reply_to, INVALID_REQUEST, 'The message needs "jsonrpc": "2.0".')
            return
        method = data.get("method")
        if "method" not in data:
            if has_id and ("result" in data or "error" in data):
                self._dispatch(data, has_id=False)  # a response to a request of ours
            else:
                self._reject(has_id, reply_to, INVALID_REQUEST, "A request needs a method.")
            return
        if not isinstance(method, str):
            self._reject(has_id, reply_to, INVALID_REQUEST, "The method must be a string.")
            return
        if has_id and ("result" in data or "error" in data):
            # pygls would take it for a response to a request of ours and drop it.
            self.send_error(
                msg_id,
                INVALID_REQUEST,
                "A message has a method (a request) or a result or error (a response), "
                "not both; nothing was done.",
            )
            return
        if has_id and method in NOTIFICATIONS:
            self.send_error(
                msg_id,
                INVALID_REQUEST,
                f"{method} is a notification; send it without an id. Nothing was done.",
            )
            return
        if method == types.EXIT:
            raise ExitRequested(0 if self.shutdown_seen else 1)
        params = data.get("params")
        if params is not None and not isinstance(params, dict | list):
            self._reject(has_id, reply_to, INVALID_PARAMS, "params must be an object or array.")
            return
        if self.shutdown_seen:
            self._reject(has_id, reply_to, INVALID_REQUEST, "The server is shutting down.")
            return
        if self.stopping is not None and method != types.CANCEL_REQUEST:
            if has_id:
                self.refuse_stopping(msg_id)
            return
        if not self.initialize_seen and method != types.INITIALIZE:
            if has_id:
                self.send_error(
                    msg_id,
                    SERVER_NOT_INITIALIZED,
                    "The server is not initialized; send initialize first.",
                )
            else:
                log.warning("ignored %s before initialize", method[:80])
            return
        clean: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if has_id:
            clean["id"] = msg_id
        self._dispatch(clean, has_id=has_id)

    def refuse_stopping(self, msg_id: Any) -> None:
        """Answer a request read while a signal stops the server: not carried out."""
        self.send_error(
            msg_id,
            REQUEST_CANCELLED,
            f"The server is stopping ({self.stopping}); this request was not carried out "
            "and nothing was written. Send it again to a new server.",
            {"kind": "server_stopping", "written": False},
        )

    def _reject(self, has_id: bool, msg_id: Any, code: int, message: str) -> None:
        if has_id:
            self.send_error(msg_id, code, message)
        else:
            log.warning("ignored a notification: %s", message)

    def _dispatch(self, data: dict[str, Any], *, has_id: bool) -> None:
        method = str(data.get("method", ""))[:80]
        params = data.get("params")
        if (
            has_id
            and method == types.WORKSPACE_EXECUTE_COMMAND
            and isinstance(params, dict)
            and _not_an_array(params)
        ):
            # LSP's arguments are an array: lsprotocol would take a string's characters as
            # that many arguments ("8 were given" for "notalist"). Told so; nothing is run.
            given = params.get("command")
            name = given if isinstance(given, str) else "np.*"
            error = rpc_error(
                InvalidArgument(
                    f"{name[:60]} takes its argument in an array: "
                    '"arguments": [{"dir": "/path/to/project"}], or none.',
                    field="arguments",
                )
            )
            self.send_error(data["id"], error.code, error.message, error.data)
            return
        if has_id and method == types.WORKSPACE_EXECUTE_COMMAND and self._plain_command(params):
            # An np command with plain JSON arguments (nearly every request): started
            # directly, as pygls would start it, without structuring the message into
            # lsprotocol's classes first (they would carry the same values).
            message: Any = None
        else:
            try:
                message = self.structure_message(data)
            except Exception:
                log.warning("%s message with params that do not fit LSP", method or "a response")
                if has_id:
                    self.send_error(
                        data["id"],
                        INVALID_PARAMS,
                        f"Invalid params for {method}: they do not have the shape LSP defines.",
                    )
                return
        if has_id and data["id"] in self.inflight:
            # JSON-RPC ids are unique among requests in flight; a second one would take the
            # first one's place (its answer then unawaited at exit). Refused, not run.
            self.send_error(
                data["id"],
                INVALID_REQUEST,
                f"The id {_cap(data['id'])!r} is already used by a request in flight; use a new "
                "id. Nothing was done.",
            )
            return
        if has_id and method == types.INITIALIZE:
            if self.initialize_seen:
                self.send_error(
                    data["id"],
                    INVALID_REQUEST,
                    "The server is already initialized; initialize is sent once. The "
                    "workspace stays as the first initialize set it.",
                )
                return
            self.initialize_seen = True
        elif not has_id and method == types.INITIALIZE:
            log.warning("ignored initialize sent as a notification")
            return
        if has_id:
            self.inflight[data["id"]] = method
            if method == types.SHUTDOWN:
                self.shutdown_seen = True  # what is read after it is refused
        try:
            if message is None:
                contextvars.copy_context().run(self._handle_request, data["id"], method, params)
            else:
                self.handle_message(message)
        except Exception:
            log.exception("failed to handle %s", method)
            if has_id:
                self.send_error(
                    data["id"], INTERNAL_ERROR, f"Internal error in {method}.", settles=True
                )
                return
        if has_id and data["id"] in self.inflight and data["id"] not in self._request_futures:
            # Neither answered nor running: pygls dropped it (it answers synchronous
            # handlers at once and files every other one under its id). Nothing runs.
            log.error("request %r (%s) was dropped unanswered; answering it", data["id"], method)
            self.send_error(
                data["id"],
                INTERNAL_ERROR,
                f"Internal error: {method} was not carried out; nothing was written. The "
                "server log has details.",
                {"kind": "internal_error"},
                settles=True,
            )

    def _plain_command(self, params: object) -> bool:
        """``params`` of ``workspace/executeCommand`` name an np command and hold nothing
        but its arguments, as a list (or none): what lsprotocol would structure them into
        is the same values."""
        if not isinstance(params, dict) or not params.keys() <= _COMMAND_KEYS:
            return False
        name, arguments = params.get("command"), params.get("arguments")
        return (
            isinstance(name, str)
            and name in self.fm.commands
            and (arguments is None or isinstance(arguments, list))
        )

    def _handle_request(self, msg_id: Any, method_name: str, params: Any) -> None:
        """An np command read as plain JSON (``_dispatch``) runs its handler as pygls
        runs an async one: a task in this context, answered by ``_send_handler_result``;
        everything else is pygls'."""
        if not isinstance(params, dict):
            super()._handle_request(msg_id, method_name, params)
            return
        self._ctx_msg_id.set(msg_id)
        handler = self.fm.commands[params["command"]]
        task = asyncio.ensure_future(handler(*(params.get("arguments") or ())))
        self._request_futures[msg_id] = task
        task.add_done_callback(functools.partial(self._send_handler_result, msg_id=msg_id))

    # -- outgoing ----------------------------------------------------------------------

    def send_error(
        self, msg_id: Any, code: int, message: str, data: Any = None, *, settles: bool = False
    ) -> None:
        """An error response built by hand: pygls' own drops ``"id": null``, which
        JSON-RPC requires when the request's id could not be read. ``settles``: it answers
        a request in flight (else a message refused as read, which must not settle another
        request in flight under the same id)."""
        error: dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            error["data"] = data
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": error})
        if settles:
            self._answer(msg_id)

    def _send_response(
        self,
        msg_id: Any,
        result: Any | None = None,
        error: types.ResponseError | None = None,
    ) -> None:
        try:
            with self.corked():
                self._respond(msg_id, result, error)
                if msg_id in self.wrote and self.on_write_answered is not None:
                    self.on_write_answered()  # its np/didChange goes out with the answer
        finally:
            self._answer(msg_id)

    def notify_json(self, method: str, params: dict[str, Any]) -> None:
        """A notification whose params are plain JSON: sent as they are, without pygls'
        message classes and cattrs."""
        self._send_data({"jsonrpc": "2.0", "method": method, "params": params})

    @contextlib.contextmanager
    def corked(self) -> Iterator[None]:
        """Hold the messages sent inside, then write them in one go (one system call, one
        wake-up of the client), in the order they were sent."""
        if self._cork is not None:  # already corked: the outer one writes
            yield
            return
        self._cork = []
        try:
            yield
        finally:
            held, self._cork = self._cork, None
            if held:
                self._write([b"".join(held)])

    def _respond(self, msg_id: Any, result: Any | None, error: types.ResponseError | None) -> None:
        if error is not None:
            data = error.data
            if isinstance(data, dict) and "traceback" in data:
                # An unexpected exception that pygls turned into -32603 with a traceback.
                log.error(
                    "internal error answered for request %s: %s\n%s",
                    msg_id,
                    error.message,
                    "".join(data["traceback"]),
                )
                error = types.ResponseError(
                    code=INTERNAL_ERROR,
                    message="Internal error; nothing was written half-way. The server log "
                    "has details.",
                    data={"kind": "internal_error"},
                )
            elif len(error.message) > ERROR_TEXT_MAX or data is not None:
                error = types.ResponseError(
                    code=error.code, message=_cap(error.message), data=_cap(data)
                )
        if error is None and isinstance(result, Spooled):
            self._send_spooled(msg_id, result)
            return
        if error is None and isinstance(result, dict):
            # The command table's results are plain JSON already: skip pygls' recursive
            # cattrs unstructuring of the whole result, which costs more than the write.
            self._send_data({"jsonrpc": "2.0", "id": msg_id, "result": result})
            return
        super()._send_response(msg_id, result, error)

    def _send_data(self, data: Any) -> None:
        """pygls' writer, except that a response it cannot serialise becomes an internal
        error for that id (pygls would log and send nothing: a client waiting forever),
        and a closed stdout stops the server instead of failing every later write."""
        if self.client_lost or not data or self.writer is None:
            return
        try:
            body = json.dumps(data, default=self._serialize_message)
        except Exception:
            msg_id = data.get("id") if isinstance(data, dict) else getattr(data, "id", None)
            is_response = hasattr(data, "result") or (isinstance(data, dict) and "result" in data)
            log.exception("could not serialise a message (%s)", type(data).__name__)
            if not is_response:
                return
            body = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": msg_id,
                    "error": {
                        "code": INTERNAL_ERROR,
                        "message": "Internal error: the request was carried out (what it "
                        "changes is saved), but its result could not be sent; read the plan "
                        "with np.plan rather than repeating it.",
                        "data": {"kind": "internal_error"},
                    },
                }
            )
        payload = body.encode("utf-8")
        self._write([self._header(len(payload)) + payload])

    def _send_spooled(self, msg_id: Any, spooled: Spooled) -> None:
        """A result encoded beforehand into a temporary file (a whole log: ``np.export``,
        ``np.events``), sent a chunk at a time: its length is known, its bytes are never
        all in memory."""
        try:
            if self.client_lost or self.writer is None:
                return
            head = ('{"jsonrpc":"2.0","id":' + json.dumps(msg_id) + ',"result":').encode()
            tail = b"}"
            length = len(head) + spooled.size + len(tail)
            self._write(itertools.chain([self._header(length) + head], spooled.chunks(), [tail]))
        finally:
            spooled.close()

    def _header(self, length: int) -> bytes:
        return (
            f"Content-Length: {length}\r\n"
            f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n"
        ).encode("ascii")

    def _write(self, parts: Iterable[bytes]) -> None:
        """Write one message's bytes (on the loop's thread: nothing comes between them)."""
        assert self.writer is not None
        if self._cork is not None:
            if isinstance(parts, list):
                self._cork.extend(parts)
                return
            # A message streamed from a file: what was held goes first, then it, unheld.
            held, self._cork = self._cork, []
            if held:
                self._write([b"".join(held)])
        try:
            for part in parts:
                self.writer.write(part)  # StdoutWriter: write and flush
        except (BrokenPipeError, ConnectionResetError):
            self.lose_client("the client closed its end of stdout")
        except (OSError, ValueError) as exc:  # ValueError: stdout closed (after exit)
            self.lose_client(f"stdout is unusable ({type(exc).__name__})")

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        # pygls files every async/threaded handler future in ``_request_futures`` but only
        # removes the ones keyed by a request id; the inner futures of executeCommand
        # (keyed by a fresh uuid) would stay forever, results included.
        # And a cancelled inner future (shutdown cancels them) makes pygls'
        # ``_run_generator`` raise CancelledError out of the callback: asyncio logs it as
        # an error, and the request's own future would never resolve. Cancel that instead.
        def done(future: Any) -> None:
            if self._request_futures.get(msg_id) is future:
                del self._request_futures[msg_id]
            try:
                callback(future)
            except (asyncio.CancelledError, concurrent.futures.CancelledError):
                keywords = getattr(callback, "keywords", None) or {}
                result_future = keywords.get("result_future")
                if result_future is not None and not result_future.done():
                    result_future.cancel()

        super()._execute_handler(msg_id, handler, done, args, kwargs)

    # -- built-ins ---------------------------------------------------------------------

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        """pygls' shutdown without its cancelling of the requests in flight: a cancelled
        future is answered -32800 while its unit of work may still commit. The user
        handler has let them all finish first; any still running is answered when done."""
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        self._shutdown = True
        return None

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(
        self, params: types.ExecuteCommandParams
    ) -> Generator[Any, Any, Any]:
        """An unknown command is ``invalid_argument`` (field ``command``), like a bad
        argument, instead of pygls' -32602 that echoes the whole name."""
        if params.command not in self.fm.commands:
            raise rpc_error(
                InvalidArgument(
                    f"Unknown command {params.command[:60]!r}; the commands are "
                    f"{', '.join(sorted(COMMANDS))}.",
                    field="command",
                )
            )
        # Every np command handler takes ``*args`` as they came: skip pygls' per-call
        # signature inspection (``get_type_hints`` on every request) and pass them through.
        handler = self.fm.commands[params.command]
        return (yield handler, tuple(params.arguments or ()), None)
