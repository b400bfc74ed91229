"""``np serve``: the command table over JSON-RPC 2.0 on stdio (LSP framing), with pygls.

Thin wiring only: every ``np.*`` command of ``server.commands`` is registered as a
``workspace/executeCommand`` command and runs through the same ``execute`` the CLI uses.

Design points (see the pitfalls in the tech notes):

* Database work runs on one dedicated thread that owns the connections, so a slow write
  never stops the server reading messages, and no write transaction ever spans a client
  round trip (a unit of work is opened and committed inside one executor job).
* Handlers take ``*args`` and validate the one JSON object themselves; results are plain
  dicts, so pygls never camelCases or drops fields, and every request gets an answer.
* Errors are ``JsonRpcException`` with the application code and ``data.kind``; anything
  unexpected becomes a clean -32603 with no traceback or file path, and long strings in
  error messages and data are capped.
* A ``ChangeFeed`` (``PRAGMA data_version``) is polled every 100 ms on the event loop's
  thread (a few microseconds, no lock) and right after this server's own writes; each
  change becomes ``np/didChange``. The feed takes its starting point before ``initialize``
  is answered, so every later commit, from any process, is notified.
* The stdio transport is our own, not pygls' ``run_async``: a :class:`Framer` that never
  loses sync (a bad ``Content-Length``, garbage bytes, a frame larger than
  :data:`MAX_BODY`), and a dispatcher that answers every malformed message that carries an
  id (-32700 parse error, -32600 invalid request, -32602 invalid params) instead of
  dropping it. pygls' reader stops answering for good after one bad ``Content-Length``
  header and gives no response at all to a request whose params fail to deserialise.
* ``shutdown`` lets requests already received finish (and answers them) instead of
  cancelling them; so does stdin EOF before the process ends. ``exit`` without
  ``shutdown`` ends with code 1, as LSP asks; otherwise the code is 0.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Awaitable, Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, BinaryIO, TypeVar

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import to_fs_path

from store import InvalidArgument, NpError, Store
from store.watch import POLL_INTERVAL, ChangeFeed

from .commands import COMMANDS, Context, execute
from .version import __version__

log = logging.getLogger("np.serve")
T = TypeVar("T")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
DID_CHANGE = "np/didChange"

MAX_BODY = 64 * 1024 * 1024  # larger frames are skipped unread (a 500-task batch fits)
MAX_HEADER_LINE = 8 * 1024  # a longer line without a newline is garbage
STALL_SECONDS = 0.5  # see Framer.flush_stalled
READ_CHUNK = 256 * 1024
ERROR_TEXT_MAX = 1000  # error messages and data strings are capped on the wire
FAILING_POLL_INTERVAL = 2.0  # the change feed backs off while the database is unusable
DRAIN_SECONDS = 30.0  # the longest exit waits for writes in flight (busy retries included)

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


def _pump(stdin: BinaryIO, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes]) -> None:
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


# -- protocol ---------------------------------------------------------------------------------


def _valid_id(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _cap(value: Any, depth: int = 0) -> Any:
    """Long strings in error data are cut (a 2 MB sid must not come back 2 MB long)."""
    if isinstance(value, str) and len(value) > ERROR_TEXT_MAX:
        return value[:ERROR_TEXT_MAX] + "…"
    if depth < 4 and isinstance(value, dict):
        return {k: _cap(v, depth + 1) for k, v in value.items()}
    if depth < 4 and isinstance(value, list):
        return [_cap(v, depth + 1) for v in value[:100]]
    return value


class NpProtocol(LanguageServerProtocol):
    """pygls' LSP protocol with the holes that matter here closed: every request gets a
    response, errors never carry tracebacks, and finished handler futures are released."""

    _server: NpServer

    # -- incoming ----------------------------------------------------------------------

    def handle_frame(self, frame: Frame) -> None:
        """Validate one frame's JSON-RPC envelope, then hand it to pygls. ``exit`` raises
        ``SystemExit`` out of here."""
        if isinstance(frame, FrameError):
            log.warning("skipped a frame: %s", frame.message)
            self.send_error(None, frame.code, frame.message)
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
        params = data.get("params")
        if params is not None and not isinstance(params, dict | list):
            self._reject(has_id, reply_to, INVALID_PARAMS, "params must be an object or array.")
            return
        if self._shutdown and method != types.EXIT:
            self._reject(has_id, reply_to, INVALID_REQUEST, "The server is shutting down.")
            return
        clean: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if has_id:
            clean["id"] = msg_id
        self._dispatch(clean, has_id=has_id)

    def _reject(self, has_id: bool, msg_id: Any, code: int, message: str) -> None:
        if has_id:
            self.send_error(msg_id, code, message)
        else:
            log.warning("ignored a notification: %s", message)

    def _dispatch(self, data: dict[str, Any], *, has_id: bool) -> None:
        method = str(data.get("method", ""))[:80]
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
        try:
            self.handle_message(message)
        except Exception:
            log.exception("failed to handle %s", method)
            if has_id:
                self.send_error(data["id"], INTERNAL_ERROR, f"Internal error in {method}.")

    # -- outgoing ----------------------------------------------------------------------

    def send_error(self, msg_id: Any, code: int, message: str, data: Any = None) -> None:
        """An error response built by hand: pygls' own drops ``"id": null``, which
        JSON-RPC requires when the request's id could not be read."""
        error: dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            error["data"] = data
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": error})

    def _send_response(
        self,
        msg_id: Any,
        result: Any | None = None,
        error: types.ResponseError | None = None,
    ) -> None:
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
        if self._server.client_lost or not data or self.writer is None:
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
                        "message": "Internal error: the result could not be sent.",
                        "data": {"kind": "internal_error"},
                    },
                }
            )
        payload = body.encode("utf-8")
        header = (
            f"Content-Length: {len(payload)}\r\n"
            f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n"
        ).encode("ascii")
        try:
            self.writer.write(header + payload)  # StdoutWriter: write and flush
        except (BrokenPipeError, ConnectionResetError):
            self._server.lose_client("the client closed its end of stdout")
        except (OSError, ValueError) as exc:  # ValueError: stdout closed (after exit)
            self._server.lose_client(f"stdout is unusable ({type(exc).__name__})")

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
        """pygls' shutdown, iterating over a copy of the in-flight futures (cancelling one
        removes it from the dict). The user handler has let them all finish first."""
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current_id = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(
        self, params: types.ExecuteCommandParams
    ) -> Generator[Any, Any, Any]:
        """An unknown command is ``invalid_argument`` (field ``command``), like a bad
        argument, instead of pygls' -32602 that echoes the whole name."""
        if params.command not in self.fm.commands:
            raise _rpc_error(
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


# -- server -----------------------------------------------------------------------------------


class NpServer(LanguageServer):
    protocol: NpProtocol

    def __init__(self, db_path: str, fallback_dir: str | None = None) -> None:
        super().__init__(
            "np",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.None_,
            protocol_cls=NpProtocol,
        )
        self.db_path = db_path
        self.fallback_dir = fallback_dir
        self.root: str | None = None
        self.client_name = "client"
        self.client_lost = False
        self.exit_code = 0
        self.db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="np-db")
        self._store: Store | None = None
        self._feed: ChangeFeed | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._main_task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    # -- the database thread -----------------------------------------------------------

    def _open(self) -> Store:
        """Open lazily on the db thread, so a bad database is an error per request, not a
        server that fails to start; a later request tries again."""
        if self._store is None:
            self._store = Store(self.db_path)
        return self._store

    async def on_db(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.db, fn)

    def _execute(self, name: str, raw: object, cmd: str) -> dict[str, Any]:
        return execute(name, Context(self._open(), self.root or self.fallback_dir, cmd), raw)

    def _poll(self) -> list[dict[str, Any]]:
        """Runs on the event loop's thread, which owns the feed's connection: checking
        ``PRAGMA data_version`` costs microseconds and never waits for a lock (WAL), so an
        idle server wakes ten times a second without a thread hop."""
        if self._feed is None:
            self._feed = ChangeFeed(self.db_path)
        return [
            {"sid": c.sid, "dir": c.dir, "seq": c.seq, "type": str(c.type)}
            for c in self._feed.poll()
        ]

    def close_db(self) -> None:
        def close() -> None:
            if self._store is not None:
                self._store.close()

        try:
            self.db.submit(close).result()
        except Exception as exc:
            log.warning("closing the database: %s", exc)
        finally:
            self.db.shutdown(wait=True)

    # -- change notifications ----------------------------------------------------------

    async def start_watching(self) -> None:
        """Called from ``initialize``, before it answers: the feed takes its starting point
        then, so every commit after the client's ``initialize`` returns is notified,
        including other processes'."""
        if self._watch_task is None:
            try:
                self._feed = ChangeFeed(self.db_path)  # its starting point: now
            except NpError:
                pass  # reported, and retried, by the watch loop
            self._wake = asyncio.Event()
            self._watch_task = asyncio.get_running_loop().create_task(self._watch())

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _watch(self) -> None:
        assert self._wake is not None
        failing: str | None = None
        while not self.client_lost:
            interval = POLL_INTERVAL
            try:
                changes = self._poll()
            except Exception as exc:
                message = exc.message if isinstance(exc, NpError) else type(exc).__name__
                if message != failing:  # once per distinct failure, not ten times a second
                    if isinstance(exc, NpError):
                        log.warning("change feed: %s", message)
                    else:
                        log.exception("change feed failed; retrying")
                    failing = message
                interval = FAILING_POLL_INTERVAL
            else:
                if failing is not None:
                    log.warning("change feed: the database is usable again")
                    failing = None
                for change in changes:
                    self.protocol.notify(DID_CHANGE, change)
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
            except TimeoutError:
                pass
            self._wake.clear()

    # -- transport -----------------------------------------------------------------------

    def lose_client(self, why: str) -> None:
        if not self.client_lost:
            log.warning("stopping: %s", why)
            self.client_lost = True
            if self._main_task is not None:
                self._main_task.cancel()

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve until ``exit`` or EOF on stdin (see :class:`Framer`)."""
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(self._serve(stdin or sys.stdin.buffer))
        except KeyboardInterrupt:
            pass
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]

    async def _serve(self, stdin: BinaryIO) -> None:
        loop = asyncio.get_running_loop()
        self._main_task = asyncio.current_task()
        chunks: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4)
        threading.Thread(
            target=_pump, args=(stdin, loop, chunks), name="np-stdin", daemon=True
        ).start()
        framer = Framer()
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(
                        chunks.get(), STALL_SECONDS if framer.waiting_for_body else None
                    )
                except TimeoutError:
                    frames = framer.flush_stalled()
                else:
                    if not chunk:
                        log.info("stdin closed; stopping")
                        return
                    frames = framer.feed(chunk)
                for frame in frames:
                    self.protocol.handle_frame(frame)
        except SystemExit as exc:  # the exit notification; stdout is closed now
            self.exit_code = exc.code if isinstance(exc.code, int) else 0
            self.client_lost = True
        except asyncio.CancelledError:
            if not self.client_lost:
                raise
        finally:
            if framer.skipped:
                log.warning("skipped %d bytes that were not LSP frames", framer.skipped)
            if self._watch_task is not None:
                self._watch_task.cancel()
            # Finish what was asked before the process ends, so that
            # ``printf '<frames>' | np serve`` gets every answer.
            await self.settle()
            if self._feed is not None:  # owned by this (the loop's) thread
                self._feed.close()
                self._feed = None

    async def settle(self) -> None:
        """Wait until every request already read has been carried out in full (the db
        queue is FIFO) and answered. Used by ``shutdown`` and before the process ends."""
        try:
            await asyncio.wait_for(self.on_db(lambda: None), DRAIN_SECONDS)
        except (TimeoutError, RuntimeError):
            log.warning("gave up waiting for the database")
        me = asyncio.current_task()
        in_flight: list[Any] = list(self.protocol._request_futures.values())  # typed too narrowly
        pending: list[asyncio.Future[Any]] = [
            f for f in in_flight if isinstance(f, asyncio.Future) and f is not me and not f.done()
        ]
        if pending:
            await asyncio.wait(pending, timeout=DRAIN_SECONDS)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log out-of-band errors instead of popping up a box in the user's editor. Request
        errors already went back to the client as the response."""
        if getattr(source, "__name__", "") == "FeatureRequestError":
            return
        log.error("server error (%s): %s", getattr(source, "__name__", source), error)


class _QuietExpectedErrors(logging.Filter):
    """pygls logs a traceback for every request that ends in an error response. Errors we
    raise on purpose are answers, not faults: keep them out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, JsonRpcException)


class _QuietDeserialiseErrors(logging.Filter):
    """pygls logs a full traceback for every message whose params do not fit the LSP
    types; the dispatcher answers those (-32602) and logs one line of its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Unable to deserialize message")


def _rpc_error(exc: NpError) -> JsonRpcException:
    return JsonRpcException(message=exc.message, code=exc.code, data=exc.to_dict()["data"])


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    return "something else"


def make_handler(name: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    writes = COMMANDS[name].writes

    async def handler(ls: NpServer, *args: Any) -> dict[str, Any]:
        if len(args) > 1:
            raise _rpc_error(
                InvalidArgument(
                    f"{name} takes one JSON object argument; {len(args)} were given.",
                    field="arguments",
                )
            )
        if args and not isinstance(args[0], dict):
            raise _rpc_error(
                InvalidArgument(
                    f"{name} takes one JSON object as its argument, for example "
                    f'{{"dir": "/path/to/project"}}; got {_json_type(args[0])}.',
                    field="arguments",
                )
            )
        raw = args[0] if args else {}
        cmd = f"lsp:{name} ({ls.client_name})"
        try:
            result = await ls.on_db(partial(ls._execute, name, raw, cmd))
        except NpError as exc:
            raise _rpc_error(exc) from None
        except Exception as exc:
            log.exception("%s failed", name)
            raise JsonRpcException(
                message=f"Internal error in {name} ({type(exc).__name__}); nothing was written "
                "half-way. The server log has details.",
                code=INTERNAL_ERROR,
                data={"kind": "internal_error"},
            ) from None
        if writes:
            ls.wake()
        return result

    handler.__name__ = "cmd_" + name.replace(".", "_")
    return handler


def create_server(db_path: str, fallback_dir: str | None = None) -> NpServer:
    server = NpServer(db_path, fallback_dir)
    for name in COMMANDS:
        server.command(name)(make_handler(name))

    @server.feature(types.INITIALIZE)
    async def initialize(ls: NpServer, params: types.InitializeParams) -> None:
        if params.client_info is not None:
            ls.client_name = "".join(c for c in params.client_info.name[:60] if c.isprintable())
        ls.root = _root_dir(params)
        await ls.start_watching()

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: NpServer, params: None) -> None:
        # Requests sent before shutdown are carried out and answered, not cancelled.
        await ls.settle()

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def folders_changed(ls: NpServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        folders = [p for f in ls.workspace.folders.values() if (p := to_fs_path(f.uri)) is not None]
        if folders:
            ls.root = folders[0]

    return server


def _root_dir(params: types.InitializeParams) -> str | None:
    if params.workspace_folders:
        path = to_fs_path(params.workspace_folders[0].uri)
        if path:
            return path
    if params.root_uri:
        path = to_fs_path(params.root_uri)
        if path:
            return path
    return params.root_path or None


def _protocol_stdout() -> BinaryIO:
    """A private handle on the real stdout; file descriptor 1 itself is pointed at stderr, so
    nothing else — a stray print, a C library, a child process — can write into the stream."""
    try:
        out_fd, err_fd = sys.stdout.fileno(), sys.stderr.fileno()
        fd = os.dup(out_fd)
    except (OSError, ValueError, AttributeError):
        return sys.stdout.buffer
    try:
        os.dup2(err_fd, out_fd)
    except OSError:
        os.close(fd)
        return sys.stdout.buffer
    return os.fdopen(fd, "wb")


def serve(db_path: str, directory: str | None, log_file: str | None = None) -> int:
    """Run until the client sends exit or closes stdin. Only protocol bytes go to stdout.
    The exit code is 0, or 1 after an ``exit`` that no ``shutdown`` preceded (LSP)."""
    handler: logging.Handler = (
        logging.FileHandler(log_file, encoding="utf-8")
        if log_file
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_QuietExpectedErrors())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if log_file else logging.WARNING)
    logging.getLogger("pygls").setLevel(logging.WARNING)
    logging.getLogger("pygls.protocol.json_rpc").addFilter(_QuietDeserialiseErrors())

    server = create_server(db_path, directory or os.getcwd())
    sys.stdout.flush()
    protocol_out = _protocol_stdout()
    sys.stdout = sys.stderr  # a stray print must never corrupt the JSON-RPC stream
    try:
        server.start_io(sys.stdin.buffer, protocol_out)
    finally:
        server.close_db()
    return server.exit_code
