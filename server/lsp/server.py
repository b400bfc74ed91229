"""``np serve``: the command table over JSON-RPC 2.0 on stdio (LSP framing), with pygls.

Thin wiring only: every ``np.*`` command of ``server.commands`` is registered as a
``workspace/executeCommand`` command and runs through the same ``execute`` the CLI uses.

Design points (see the pitfalls in the tech notes):

* Database work runs on two dedicated threads, each owning its connection: one for
  writes, one for reads. A slow write never stops the server reading messages, no write
  transaction ever spans a client round trip (a unit of work is opened and committed
  inside one executor job), and reads never wait for writes: a read waits for this
  server's earlier writes (so a pipelining client reads what it wrote) unless one of them
  is waiting for another process's write lock; then the read answers from the last
  committed state at once (WAL readers need no lock). A read marks its notice seen
  (``Store.look``) only if the lock is free within ``store.LOOK_LOCK_WAIT``; else the
  notice is shown again next time.
* ``$/cancelRequest`` withdraws a command only while its job has not started; once a unit
  of work has started it finishes and its result is sent, so a "cancelled" answer always
  means nothing was written and a retry cannot double anything.
* Handlers take ``*args`` and validate the one JSON object themselves; results are plain
  dicts, so pygls never camelCases or drops fields, and every request gets an answer.
* Errors are ``JsonRpcException`` with the application code and ``data.kind``; anything
  unexpected becomes a clean -32603 with no traceback or file path, and long strings in
  error messages and data are capped.
* The change feed (``server.commands.follow``: ``PRAGMA data_version`` on SQLite, LISTEN/
  NOTIFY on PostgreSQL) is polled every 100 ms on the event loop's thread (a few
  microseconds, no lock), at once when PostgreSQL's socket wakes, and right after this
  server's own writes; each change becomes ``np/didChange``. The feed takes its starting
  point before ``initialize`` is answered, so every later commit, from any process, is
  notified.
* stdin is read on the event loop itself when it is a pipe (``transport.LoopReader``: a
  request wakes the server once), by a thread of its own when it is a file; a write's
  ``np/didChange`` goes out in the same write to stdout as its answer.
* The stdio transport is our own, not pygls' ``run_async``: ``server.lsp.transport.Framer``
  never loses sync (a bad ``Content-Length``, garbage bytes, an oversized frame), and
  ``server.lsp.protocol.NpProtocol`` answers every malformed message that carries an id
  (-32700 parse error, -32600 invalid request, -32602 invalid params) instead of dropping
  it. pygls' reader stops answering for good after one bad ``Content-Length`` header and
  gives no response at all to a request whose params fail to deserialise.
* ``shutdown`` lets requests already received finish (and answers them) instead of
  cancelling them; so do ``exit`` and stdin EOF before the process ends. ``exit`` without
  ``shutdown`` ends with code 1, as LSP asks; otherwise the code is 0.
* ``processId`` of ``initialize`` is watched: when that process is gone (or a zombie) the
  server stops as if stdin had closed, even if the pipe stays open.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, BinaryIO, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcRequestCancelled
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer

from server.commands import COMMANDS, Context, execute
from server.commands.follow import Follower
from server.commands.runner import Runner, SavedButFailed, Withdrawn
from server.commands.spool import Spooled, is_streamed
from server.exits import EXIT_OUTPUT, ProtocolOut, protocol_output_failed, stdout_problem
from server.version import __version__
from store import InvalidArgument, NpError, Store
from store.feed import Change
from store.paths import uri_to_path

from .protocol import INTERNAL_ERROR, ExitRequested, NpProtocol, rpc_error
from .transport import STALL_SECONDS, FrameError, Framer, LoopReader, pump

log = logging.getLogger("np.serve")
T = TypeVar("T")

DID_CHANGE = "np/didChange"
DRAIN_SECONDS = 60.0  # the longest shutdown/exit waits for the requests in flight
PARENT_POLL = 1.0  # seconds between checks that the client process (processId) lives


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
        self.signal_exit: int | None = None  # 128 + the signal that stopped the server
        # Writes and reads on threads and connections of their own (server.commands.runner).
        self.runner = Runner(db_path)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.follower = Follower(db_path, self._notify)
        self._parent_task: asyncio.Task[None] | None = None
        self._main_task: asyncio.Task[None] | None = None
        self.protocol.on_client_lost = self._cancel_main
        self.protocol.on_cancel = self.withdraw
        self.protocol.on_write_answered = self.follower.poll_now

    @property
    def client_lost(self) -> bool:
        """The client went away (stdout closed, or ``exit``): nothing more is written."""
        return self.protocol.client_lost

    # -- the database threads ----------------------------------------------------------

    async def run(self, msg_id: Any, writes: bool, fn: Callable[[Store], T]) -> T:
        """Run ``fn(store)`` on the write or the read thread for request ``msg_id``.

        Raises ``JsonRpcRequestCancelled`` when ``$/cancelRequest`` came before the job
        started (nothing was written); a started job always runs to its end."""
        protocol = self.protocol
        if protocol.client_lost:  # its answer could not reach anyone: run nothing
            raise _cancelled()
        try:
            return await self.runner.run(
                writes,
                fn,
                key=msg_id,
                withdrawn=lambda: (
                    protocol.client_lost or (msg_id is not None and protocol.take_cancel(msg_id))
                ),
            )
        except Withdrawn:
            raise _cancelled() from None

    def withdraw(self, msg_id: Any) -> bool | None:
        """``$/cancelRequest``: withdraw the job of request ``msg_id`` if it has not
        started. None when the request has no job yet; False when it runs or ran."""
        return self.runner.withdraw(msg_id)

    def _execute(self, store: Store, name: str, raw: object, cmd: str) -> dict[str, Any] | Spooled:
        # The client's name (clientInfo.name: "Neovim", "Visual Studio Code") is the actor
        # recorded on its events, and whose "changed since you last looked" notice it gets.
        # On a shared database machines share plans, so the actor also names this machine.
        actor = store.actor(self.client_name)
        # A whole log (np.export, np.events) is read page by page and encoded into a
        # temporary file here, while the store is open: memory stays flat however long it is.
        ctx = Context(
            store, self.root or self.fallback_dir, cmd, door="json", actor=actor, stream=True
        )
        result = execute(name, ctx, raw)
        return Spooled(result) if is_streamed(result) else result

    def close_db(self) -> None:
        self.runner.close()

    # -- change notifications ----------------------------------------------------------

    def start_watching(self) -> None:
        """Called from ``initialize``, before it answers: the feed takes its starting point
        then, so every commit after the client's ``initialize`` returns is notified,
        including other processes' (server.commands.follow: polled on the loop's thread,
        woken by PostgreSQL's socket)."""
        self.follower.start()

    def _notify(self, changes: list[Change]) -> None:
        if self.client_lost:
            return
        for c in changes:
            change = {"sid": c.sid, "dir": c.dir, "seq": c.seq, "type": str(c.type)}
            self.protocol.notify_json(DID_CHANGE, change)

    def wake(self) -> None:
        """Poll the feed now (after this server's own write), not at the next tick."""
        self.follower.wake()

    # -- transport -----------------------------------------------------------------------

    def watch_parent(self, pid: int | None) -> None:
        """Stop when process ``pid`` (``processId`` of ``initialize``) is gone. A pid this
        server cannot see (another PID namespace, e.g. a container) is not watched."""
        if pid is None or pid <= 0 or pid == os.getpid() or self._parent_task is not None:
            return
        identity = _process_identity(pid)
        if identity is None:
            log.warning("processId %d is not a process this server can see; not watching it", pid)
            return
        self._parent_task = asyncio.get_running_loop().create_task(
            self._watch_parent(pid, identity)
        )

    async def _watch_parent(self, pid: int, identity: str) -> None:
        while not self.client_lost:
            await asyncio.sleep(PARENT_POLL)
            if _process_identity(pid) != identity:
                self.lose_client(f"the client process {pid} (processId) is gone")
                return

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
        except asyncio.CancelledError:  # the client went away while the last answers were sent
            if not self.client_lost:
                raise
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]

    async def _serve(self, stdin: BinaryIO) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._main_task = asyncio.current_task()
        chunks: asyncio.Queue[bytes] = asyncio.Queue()
        reader = LoopReader.start(stdin, loop, chunks)  # read on this thread when it can be
        taken: Callable[[], None]
        if reader is not None:
            taken = reader.taken
        else:  # a file: read by a thread of its own
            slots = threading.Semaphore(4)  # chunks read ahead of the framer, at most
            threading.Thread(
                target=pump, args=(stdin, loop, chunks, slots), name="np-stdin", daemon=True
            ).start()
            taken = slots.release
        framer = Framer()
        self.catch_signals(loop, chunks)
        try:
            while True:
                try:
                    async with asyncio.timeout(STALL_SECONDS if framer.waiting_for_body else None):
                        chunk = await chunks.get()
                except TimeoutError:
                    frames = framer.flush_stalled()
                else:
                    taken()
                    if not chunk:
                        if self.protocol.stopping is None:
                            log.info("stdin closed; stopping")
                        for frame in framer.flush_eof():
                            if self.protocol.stopping is not None and isinstance(
                                frame, FrameError
                            ):  # cut short by the stop, not by the client: never run
                                self.protocol.refuse_stopping(frame.id)
                                continue
                            self.protocol.handle_frame(frame)
                        return
                    frames = framer.feed(chunk)
                for frame in frames:
                    self.protocol.handle_frame(frame)
        except ExitRequested as exc:  # nothing after exit is read
            self.exit_code = exc.code
        except asyncio.CancelledError:
            if not self.client_lost:
                raise
        finally:
            if reader is not None:
                reader.stop()  # nothing after EOF, exit or a signal is read
            if framer.skipped:
                log.warning("skipped %d bytes that were not LSP frames", framer.skipped)
            # Finish and answer what was read before the process ends, so that
            # ``printf '<frames>' | np serve`` gets every answer.
            await self.settle()
            # Nothing is sent from here on: a handler that asyncio cancels while the loop
            # closes must not be answered "cancelled" while its job may still commit.
            self.protocol.client_lost = True
            if self._parent_task is not None:
                self._parent_task.cancel()
            await self.follower.stop()  # its connection is owned by this (the loop's) thread

    def catch_signals(self, loop: asyncio.AbstractEventLoop, chunks: asyncio.Queue[bytes]) -> None:
        """SIGTERM, SIGINT and SIGHUP end the server as a closed stdin does, never in the
        middle of a request: what was read is carried out and answered (a request still
        unread in this process's buffer is answered "not carried out", nothing written),
        then the process ends with 128 + the signal's number. A second signal while the
        answers are being sent changes nothing."""
        import signal

        from store.settings import stop_waiting

        def stop(signum: int) -> None:
            if self.protocol.stopping is not None:
                log.info("signal %d again: still answering what was read", signum)
                return
            name = signal.Signals(signum).name
            log.warning("%s: answering the requests read, then stopping", name)
            self.protocol.stopping = name
            self.signal_exit = 128 + signum
            stop_waiting()  # a write waiting for another process's lock is answered now
            chunks.put_nowait(b"")  # after what was read: those frames are answered

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            try:
                loop.add_signal_handler(signum, stop, signum)
            except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
                pass

    async def settle(self, exclude: Any = None) -> None:
        """Wait until every request already read (but ``exclude``) has been carried out
        in full and answered. Used by ``shutdown`` and before the process ends."""
        if await self.protocol.wait_answered(DRAIN_SECONDS, exclude):
            return
        # Writes still queued behind a lock held elsewhere: withdraw those not started
        # (answered -32800, truthfully: nothing written) and let the running one end; it
        # waits for the lock at most NP_BUSY_TIMEOUT.
        log.warning("%d requests still in flight; withdrawing those not started", self.runner.jobs)
        for msg_id in self.runner.pending():
            self.withdraw(msg_id)
        if not await self.protocol.wait_answered(DRAIN_SECONDS, exclude):
            log.warning("gave up waiting for %d requests in flight", len(self.protocol.inflight))

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


def make_handler(name: str) -> Callable[..., Awaitable[dict[str, Any] | Spooled]]:
    writes = COMMANDS[name].writes

    async def handler(ls: NpServer, *args: Any) -> dict[str, Any] | Spooled:
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
        msg_id = ls.protocol.msg_id
        try:
            result = await ls.run(msg_id, writes, partial(ls._execute, name=name, raw=raw, cmd=cmd))
        except JsonRpcException:
            raise
        except SavedButFailed as exc:
            # A committed change is never reported as a failure: the client must not retry.
            log.error("%s was saved, then failed", name, exc_info=exc.cause)
            ls.wake()
            raise JsonRpcException(
                message=f"{name} was carried out and saved, but its result could not be "
                f"built ({_reason(exc.cause)}); do not repeat it. Read the plan with np.plan.",
                code=INTERNAL_ERROR,
                data={"kind": "internal_error", "saved": True},
            ) from None
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
        if writes:  # its np/didChange is sent right after the answer, in the same write
            ls.protocol.wrote.add(msg_id)
        return result

    handler.__name__ = "cmd_" + name.replace(".", "_")
    return handler


def create_server(db_path: str, fallback_dir: str | None = None) -> NpServer:
    server = NpServer(db_path, fallback_dir)
    for name in COMMANDS:
        server.command(name)(make_handler(name))

    @server.feature(types.INITIALIZE)
    def initialize(ls: NpServer, params: types.InitializeParams) -> None:
        # Synchronous on purpose: the root is set before the next message is read.
        if params.client_info is not None:
            name = "".join(c for c in params.client_info.name[:60] if c.isprintable()).strip()
            ls.client_name = name or "client"
        ls.root = _root_dir(params)
        if _remote_workspace(params):  # never the server's own working directory instead
            log.warning("the workspace is not a local folder; requests must name their dir")
            ls.fallback_dir = None
        ls.start_watching()
        ls.watch_parent(params.process_id)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: NpServer, params: None) -> None:
        # Requests sent before shutdown are carried out and answered, not cancelled.
        await ls.settle(exclude=ls.protocol.msg_id)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def folders_changed(ls: NpServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        paths = (uri_to_path(f.uri) for f in ls.workspace.folders.values())
        folders = [p for p in paths if p is not None]
        if folders:
            ls.root = folders[0]

    return server


def _reason(exc: Exception) -> str:
    return exc.message if isinstance(exc, NpError) else type(exc).__name__


def _cancelled() -> JsonRpcRequestCancelled:
    return JsonRpcRequestCancelled(
        "The request was cancelled before it started; nothing was written."
    )


def _process_identity(pid: int) -> str | None:
    """Something that stays the same while process ``pid`` lives (its start time, on
    Linux) and None once it is gone or a zombie, so a reused pid is not mistaken for it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return None if fields[0] in (b"Z", b"X", b"x") else fields[19].decode()
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return None  # /proc works: the process is gone
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # it exists, owned by someone else
    except OSError:
        return None
    return "alive"


def _root_dir(params: types.InitializeParams) -> str | None:
    """The workspace's first local folder (``file:``), else None."""
    for folder in params.workspace_folders or ():
        path = uri_to_path(folder.uri)
        if path:
            return path
    if params.root_uri:
        path = uri_to_path(params.root_uri)
        if path:
            return path
    return params.root_path or None


def _remote_workspace(params: types.InitializeParams) -> bool:
    """The client opened a workspace, and none of it is a local folder (``vscode-vfs://…``,
    ``untitled:``): no request may then fall back to the server's working directory."""
    named = bool(params.workspace_folders) or bool(params.root_uri)
    return named and _root_dir(params) is None


def _protocol_stdout() -> ProtocolOut:
    """A private handle on the real stdout; file descriptor 1 itself is pointed at stderr, so
    nothing else — a stray print, a C library, a child process — can write into the stream."""
    assert sys.stdout is not None  # serve() checked
    out_fd = sys.stdout.fileno()
    fd = os.dup(out_fd)
    try:
        os.dup2(sys.stderr.fileno(), out_fd)
    except (OSError, ValueError, AttributeError):
        pass  # fd 1 stays the protocol's: nothing better to point it at
    return ProtocolOut(io.FileIO(fd, "wb"))


def serve(db_path: str, directory: str | None, log_file: str | None = None) -> int:
    """Run until the client sends exit or closes stdin. Only protocol bytes go to stdout.
    The exit code is 0, or 1 after an ``exit`` that no ``shutdown`` preceded (LSP), or 4
    (``EXIT_OUTPUT``, one sentence on stderr) when stdout is closed, read-only or fails:
    nothing is run then that could not be answered."""
    problem = stdout_problem()
    if problem is not None:  # nothing is read: no answer could reach the client
        sys.stderr.write(protocol_output_failed("serve", problem, started=False) + "\n")
        return EXIT_OUTPUT
    from ..logformat import log_handler

    handler = log_handler(log_file, db_path)
    handler.addFilter(_QuietExpectedErrors())
    if not log_file:  # on stderr, the one sentence at the end says it
        handler.addFilter(lambda r: not r.getMessage().startswith("stopping: stdout is unusable"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if log_file else logging.WARNING)
    logging.getLogger("pygls").setLevel(logging.WARNING)
    logging.getLogger("pygls.protocol.json_rpc").addFilter(_QuietDeserialiseErrors())

    server = create_server(db_path, directory)
    assert sys.stdout is not None
    sys.stdout.flush()
    protocol_out = _protocol_stdout()
    sys.stdout = sys.stderr  # a stray print must never corrupt the JSON-RPC stream
    # A closed stdin is a client that sends nothing: end of input at once.
    stdin = sys.stdin.buffer if sys.stdin is not None else open(os.devnull, "rb")  # noqa: SIM115
    try:
        server.start_io(stdin, protocol_out)
    finally:
        server.close_db()
    if protocol_out.failed is not None:
        sys.stderr.write(protocol_output_failed("serve", protocol_out.failed, started=True) + "\n")
        return EXIT_OUTPUT
    return server.exit_code if server.signal_exit is None else server.signal_exit
