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
  unexpected becomes a clean -32603 with no traceback or file path.
* A ``ChangeFeed`` (``PRAGMA data_version``) is polled every 100 ms on that same thread and
  right after this server's own writes; each change becomes ``np/didChange``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from store import NpError, Store
from store.watch import POLL_INTERVAL, ChangeFeed

from .commands import COMMANDS, Context, execute
from .version import __version__

log = logging.getLogger("np.serve")
T = TypeVar("T")

INTERNAL_ERROR = -32603
DID_CHANGE = "np/didChange"


class NpServer(LanguageServer):
    def __init__(self, db_path: str, fallback_dir: str | None = None) -> None:
        super().__init__(
            "np", __version__, text_document_sync_kind=types.TextDocumentSyncKind.None_
        )
        self.db_path = db_path
        self.fallback_dir = fallback_dir
        self.root: str | None = None
        self.client_name = "client"
        self.db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="np-db")
        self._store: Store | None = None
        self._feed: ChangeFeed | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # -- the database thread ---------------------------------------------------------------

    def _open(self) -> Store:
        """Open lazily on the db thread, so a bad database is an error per request, not a
        server that fails to start."""
        if self._store is None:
            self._store = Store(self.db_path)
        return self._store

    async def on_db(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.db, fn)

    def _execute(self, name: str, raw: object, cmd: str) -> dict[str, Any]:
        return execute(name, Context(self._open(), self.root or self.fallback_dir, cmd), raw)

    def _poll(self) -> list[dict[str, Any]]:
        if self._feed is None:
            self._open()  # make sure the file and schema exist before watching
            self._feed = ChangeFeed(self.db_path)
        return [
            {"sid": c.sid, "dir": c.dir, "seq": c.seq, "type": str(c.type)}
            for c in self._feed.poll()
        ]

    def close_db(self) -> None:
        def close() -> None:
            if self._feed is not None:
                self._feed.close()
            if self._store is not None:
                self._store.close()

        try:
            self.db.submit(close).result(timeout=10)
        finally:
            self.db.shutdown(wait=True)

    # -- change notifications --------------------------------------------------------------

    def start_watching(self) -> None:
        if self._watch_task is None:
            self._wake = asyncio.Event()
            self._watch_task = asyncio.get_running_loop().create_task(self._watch())

    def wake(self) -> None:
        self._wake.set()

    async def _watch(self) -> None:
        while True:
            try:
                for change in await self.on_db(self._poll):
                    self.protocol.notify(DID_CHANGE, change)
            except NpError as exc:
                log.warning("change feed: %s", exc.message)
            except RuntimeError:  # executor shut down: the server is exiting
                return
            except Exception:
                log.exception("change feed failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_INTERVAL)
            self._wake.clear()

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


def _rpc_error(exc: NpError) -> JsonRpcException:
    return JsonRpcException(message=exc.message, code=exc.code, data=exc.to_dict()["data"])


def _invalid(message: str) -> JsonRpcException:
    return _rpc_error(_invalid_argument(message))


def _invalid_argument(message: str) -> NpError:
    from store import InvalidArgument

    return InvalidArgument(message, field="arguments")


def make_handler(name: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    writes = COMMANDS[name].writes

    async def handler(ls: NpServer, *args: Any) -> dict[str, Any]:
        if len(args) > 1:
            raise _invalid(f"{name} takes one JSON object argument; {len(args)} were given.")
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
    def initialize(ls: NpServer, params: types.InitializeParams) -> None:
        if params.client_info is not None:
            ls.client_name = params.client_info.name[:60]
        ls.root = _root_dir(params)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: NpServer, params: types.InitializedParams) -> None:
        ls.start_watching()

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


def serve(db_path: str, directory: str | None, log_file: str | None = None) -> int:
    """Run until the client sends exit or closes stdin. Only protocol bytes go to stdout."""
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

    server = create_server(db_path, directory or os.getcwd())
    protocol_out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must never corrupt the JSON-RPC stream
    try:
        server.start_io(sys.stdin.buffer, protocol_out)
    finally:
        server.close_db()
    return 0
