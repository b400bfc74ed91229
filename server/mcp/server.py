"""The MCP door's wiring onto the official SDK's low-level ``Server`` (``mcp`` 2.x).

Thin wiring only: ``tools/list`` returns :data:`server.mcp.tools.TOOLS` as written (no
generated schema, no ``outputSchema``), ``tools/call`` runs :func:`server.mcp.tools.call`
and answers with one text block, ``prompts`` offers the ``np`` prompt. The SDK serves both
protocol generations on stdio: the ``initialize`` handshake and the stateless 2026-07-28
one (``server/discover``, the envelope in each request's ``_meta``).

* Every tool error is an ``isError`` result, ``kind: sentence with the next step``, so the
  model reads it; an ordinary exception would reach the model as a bare "Error executing
  tool". An unknown tool name is a protocol error (``-32602``), as the spec asks.
* Database work runs on one dedicated thread that owns the store's connection (sqlite3
  connections stay on the thread that made them); each call is one unit of work there.
* Logs go to stderr at WARNING (or to ``--log-file`` at INFO); stdout carries only the
  protocol (:mod:`server.mcp.stdio` points file descriptor 1 at stderr while serving).
* A committed write is never reported as failed: end of input lets every request already
  read finish and be answered (:mod:`server.mcp.stdio`), and a write that committed before
  building its result failed answers that it was saved (not an error: do not repeat it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp.server.caching import CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from store import NpError, Store
from store.settings import stop_waiting
from store.text import printable

from ..commands.runner import Runner, SavedButFailed
from ..exits import EXIT_OUTPUT, EXIT_USAGE, ProtocolOut, protocol_output_failed
from ..version import __version__
from . import stdio, tools, words
from .front import Claimed, Started

log = logging.getLogger("np.mcp")
T = TypeVar("T")

PROMPT_NAME = "np"
CLIENT_NAME_MAX = 60


def _text(text: str, *, error: bool = False) -> types.CallToolResult:
    try:  # an answer that cannot be encoded would never be sent: show such text escaped
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = printable(text)
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=error)


def client_name(ctx: ServerRequestContext[Any]) -> str:
    """The MCP client's ``clientInfo.name`` (either protocol era), printable and capped."""
    params = ctx.session.client_params
    name = params.client_info.name if params is not None else ""
    return "".join(c for c in name[:CLIENT_NAME_MAX] if c.isprintable()) or "client"


class NpMcp:
    """One ``np mcp`` process: the store on its own thread and the SDK server around it."""

    def __init__(self, db_path: str, fallback_dir: str | None, problem: str | None = None) -> None:
        self.db_path = db_path
        self.problem = problem  # why np mcp cannot run as configured: every call says it
        self.fallback_dir = fallback_dir
        # Writes and reads each on a thread and a connection of their own, as in np serve: a
        # write waiting for another process's lock never holds up a read, and a read still
        # sees the writes sent before it (server.commands.runner).
        self.runner = Runner(db_path)
        self.pending: stdio.Pending | None = None  # set when serving
        self.server: Server[Any] = Server(
            "np",
            version=__version__,
            instructions=words.INSTRUCTIONS,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            on_list_prompts=self.list_prompts,
            on_get_prompt=self.get_prompt,
            cache_hints={"tools/list": CacheHint(ttl_ms=3_600_000, scope="public")},
        )
        # The SDK's default middleware opens an OpenTelemetry span per message; np exports
        # no traces, and without it a tool call's round trip is markedly shorter
        # (bench/mcp_roundtrip.py).
        self.server.middleware = []

    # -- the database thread -------------------------------------------------------------

    def close(self) -> None:
        self.runner.close()

    # -- handlers --------------------------------------------------------------------------

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool.model_validate(t) for t in tools.TOOLS])

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        name = params.name
        if name not in tools.TOOL_NAMES:
            raise MCPError(
                types.INVALID_PARAMS,
                f"Unknown tool {name[:60]!r}; the tools are {', '.join(tools.TOOL_NAMES)}.",
            )
        if self.problem is not None:
            return _text(
                words.failed("invalid_argument", self.problem, words.MISCONFIGURED), error=True
            )
        # The client's name, with the agent's session where its host exposes one to both
        # np mcp and the CLI: the same actor as that agent's np commands (server.actors).
        import os

        from server.actors import mcp_actor

        actor = mcp_actor(client_name(ctx), os.environ)
        cmd = f"mcp:{name} ({client_name(ctx)})"

        writes = name not in tools.READ_ONLY
        arguments = params.arguments
        sent = self.pending.original_params(ctx.request_id) if self.pending else None
        if isinstance(sent, dict):
            # Text that cannot be UTF-8 reached the SDK as U+FFFD: check it as it was sent,
            # so the answer is invalid_argument naming the field.
            arguments = sent.get("arguments")

        def run(store: Store) -> str:
            # machines share plans on a shared database: the actor then names this one
            return tools.call(name, arguments, store, self.fallback_dir, cmd, store.actor(actor))

        try:
            return _text(await self.runner.run(writes, run))
        except SavedButFailed as exc:
            # A committed change is never reported as a failure: the model must not retry.
            log.error("%s was saved, then failed", name, exc_info=exc.cause)
            return _text(words.saved(name, exc.cause))
        except NpError as exc:
            return _text(tools.error_text(exc), error=True)
        except Exception:
            log.exception("tool %s failed", name)
            return _text(
                words.failed(
                    "internal_error",
                    f"np failed unexpectedly ({name}); nothing was written.",
                    "Call np_plan to see the plan as it is.",
                ),
                error=True,
            )

    async def list_prompts(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return types.ListPromptsResult(
            prompts=[types.Prompt(name=PROMPT_NAME, description=words.PROMPT_DESCRIPTION)]
        )

    async def get_prompt(
        self, ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        if params.name != PROMPT_NAME:
            raise MCPError(types.INVALID_PARAMS, f"Unknown prompt {params.name[:60]!r}; try np.")
        return types.GetPromptResult(
            description=words.PROMPT_DESCRIPTION,
            messages=[
                types.PromptMessage(role="user", content=types.TextContent(text=words.PROMPT))
            ],
        )

    # -- running ---------------------------------------------------------------------------

    async def serve_stdio(self, started: Started) -> None:
        stdin, stdout, self.pending = stdio.streams(started)
        async with stdio_server(stdin, stdout) as (read_stream, write_stream):
            await self.server.run(
                read_stream, write_stream, self.server.create_initialization_options()
            )


def _setup_logging(log_file: str | None) -> None:
    """Raises ``InvalidArgument`` (one sentence, for the CLI to print) when the log file
    cannot be written."""
    from ..logformat import log_handler

    handler = log_handler(log_file)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if log_file else logging.WARNING)


def _working_directory() -> str | None:
    """Where the host started this server, as the CLI takes it (logical ``$PWD``; None if
    gone): :func:`store.paths.logical_cwd`."""
    from store.paths import logical_cwd

    return logical_cwd()


def _end_when_stdout_fails(out: ProtocolOut, app: NpMcp, ending: threading.Lock) -> None:
    """Once stdout has failed, end np mcp even while the client keeps stdin open (the SDK
    reads stdin on a thread nothing can interrupt): after running jobs finish (closing the
    runner waits for them), one sentence on stderr and exit 4."""
    while out.failed is None:
        time.sleep(0.25)
    time.sleep(1.0)  # the serving thread ends first when stdin is closed too
    if not ending.acquire(blocking=False):
        return
    app.close()
    sys.stderr.write(protocol_output_failed("mcp", out.failed, started=True) + "\n")
    sys.stderr.flush()
    logging.shutdown()
    os._exit(EXIT_OUTPUT)


def run(
    db_path: str,
    directory: str | None,
    log_file: str | None,
    claimed: Claimed,
    problem: str | None = None,
) -> int:
    """Serve until stdin closes (or a signal ends the reading); see :func:`server.mcp.serve`.
    ``claimed`` is the front already serving stdin and stdout. Returns 0, or 4
    (``EXIT_OUTPUT``, one sentence on stderr) when stdout fails, or 2 when np mcp could not
    run as configured (``problem``, or a log file it cannot write): every request was
    still answered, each tool call with an error result naming the problem."""
    started, out = claimed.started, claimed.out
    try:
        _setup_logging(log_file)
    except NpError as exc:
        sys.stderr.write(f"np: {exc.message}\n")
        _setup_logging(None)
        problem, db_path = exc.message, ":memory:"
    if started.front.signal is not None:  # stopped while the SDK loaded
        stop_waiting()  # (the front's handler does it for a later signal)
    cwd = _working_directory()
    app = NpMcp(db_path, tools.default_dir(directory, cwd, os.environ.get("HOME")), problem)
    ending = threading.Lock()  # the serving thread or the watchdog: one of them ends np mcp
    threading.Thread(target=_end_when_stdout_fails, args=(out, app, ending), daemon=True).start()
    started.sdk_ready()
    try:
        anyio.run(app.serve_stdio, started)
    except KeyboardInterrupt:
        pass
    except BaseExceptionGroup as group:  # the SDK's task group: a failed write ends it
        _, rest = group.split((BrokenPipeError, asyncio.CancelledError))
        if out.failed is None and rest is not None:
            raise
    finally:
        if not ending.acquire(blocking=False):
            threading.Event().wait()  # the watchdog is ending the process
        app.close()
    if out.failed is not None:
        sys.stderr.write(protocol_output_failed("mcp", out.failed, started=True) + "\n")
        return EXIT_OUTPUT
    return 0 if problem is None else EXIT_USAGE
