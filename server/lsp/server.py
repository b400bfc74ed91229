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
* The stdio transport is our own, not pygls' ``run_async``: ``server.framing.Framer``
  never loses sync (a bad ``Content-Length``, garbage bytes, an oversized frame), and
  ``server.protocol.NpProtocol`` answers every malformed message that carries an id
  (-32700 parse error, -32600 invalid request, -32602 invalid params) instead of dropping
  it. pygls' reader stops answering for good after one bad ``Content-Length`` header and
  gives no response at all to a request whose params fail to deserialise.
* ``shutdown`` lets requests already received finish (and answers them) instead of
  cancelling them; so does stdin EOF before the process ends. ``exit`` without
  ``shutdown`` ends with code 1, as LSP asks; otherwise the code is 0.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, BinaryIO, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from server.commands import COMMANDS, Context, execute
from server.version import __version__
from store import InvalidArgument, NpError, Store
from store.watch import POLL_INTERVAL, ChangeFeed

from .protocol import INTERNAL_ERROR, NpProtocol, rpc_error
from .transport import STALL_SECONDS, Framer, pump

log = logging.getLogger("np.serve")
T = TypeVar("T")

DID_CHANGE = "np/didChange"
FAILING_POLL_INTERVAL = 2.0  # the change feed backs off while the database is unusable
DRAIN_SECONDS = 30.0  # the longest exit waits for writes in flight (busy retries included)


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
        self.exit_code = 0
        self.db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="np-db")
        self._store: Store | None = None
        self._feed: ChangeFeed | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._main_task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self.protocol.on_client_lost = self._cancel_main

    @property
    def client_lost(self) -> bool:
        """The client went away (stdout closed, or ``exit``): nothing more is written."""
        return self.protocol.client_lost

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
        # The client's name (clientInfo.name: "Neovim", "Visual Studio Code") is the actor
        # recorded on its events, and whose "changed since you last looked" notice it gets.
        ctx = Context(
            self._open(), self.root or self.fallback_dir, cmd, door="json", actor=self.client_name
        )
        return execute(name, ctx, raw)

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
        self.protocol.lose_client(why)

    def _cancel_main(self) -> None:
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
            target=pump, args=(stdin, loop, chunks), name="np-stdin", daemon=True
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
            self.protocol.client_lost = True
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
            raise rpc_error(
                InvalidArgument(
                    f"{name} takes one JSON object argument; {len(args)} were given.",
                    field="arguments",
                )
            )
        if args and not isinstance(args[0], dict):
            raise rpc_error(
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
            raise rpc_error(exc) from None
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
            name = "".join(c for c in params.client_info.name[:60] if c.isprintable()).strip()
            ls.client_name = name or "client"
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
