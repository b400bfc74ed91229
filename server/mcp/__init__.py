"""``np mcp``: np's tools for coding agents over the Model Context Protocol, on stdio.

The door has three parts:

* :mod:`server.mcp.tools` — the eight tools the model sees (hand-written JSON Schemas, held
  byte for byte by a golden test) and their translation onto the command table; it imports
  no MCP library, so it is testable and measurable without the extra.
* :mod:`server.mcp.words` — what this door says: tool-named guidance and error hints, the
  server instructions and the ``np`` prompt.
* :mod:`server.mcp.schema` — the tool list, instructions and prompt description (standard
  library only).
* :mod:`server.mcp.front` — the stdio wire: both framings, the size limit, signals, and the
  answers a host needs at once (``initialize``, ``tools/list``) given before the SDK loads.
* :mod:`server.mcp.server` — the wiring onto the official MCP SDK (``mcp`` 2.x, the
  optional extra ``nasin-pali[mcp]``), imported only when ``np mcp`` runs, while the front
  already serves.
"""

from __future__ import annotations

import os
import sys

EXIT_NO_EXTRA = 2  # as a usage error: the command cannot run as installed


def serve(
    db_path: str, directory: str | None, log_file: str | None = None, problem: str | None = None
) -> int:
    """Serve MCP on stdin/stdout until the client closes stdin; return the exit code.

    ``directory`` is ``np mcp -C DIR`` (``None`` when not given): the default for a tool call
    without ``dir``. Without the SDK, says in one sentence on stderr how to install it and
    returns 2. ``problem``: why np mcp cannot run as configured (already said on stderr):
    every request is still answered, each tool call with an error result naming it.
    """
    from importlib.util import find_spec

    if find_spec("mcp") is None or find_spec("mcp_types") is None:
        from store.install import install_hint

        sys.stderr.write(f"np: np mcp needs the MCP extra; install it: {install_hint('mcp')}.\n")
        return EXIT_NO_EXTRA
    from ..exits import EXIT_OUTPUT, protocol_output_failed, stdout_problem
    from . import front

    if front.not_started():  # (np mcp started through server.main has checked it)
        problem = stdout_problem()
        if problem is not None:  # nothing is read: no answer could reach the client
            sys.stderr.write(protocol_output_failed("mcp", problem, started=False) + "\n")
            return EXIT_OUTPUT
    claimed = front.claimed()
    try:
        from .server import run  # the SDK, np's store and the command table

        claimed.loaded()
        code = claimed.started.exit_code(run(db_path, directory, log_file, claimed, problem))
    finally:
        claimed.release()
    if code == EXIT_OUTPUT:
        # stdout failed while the client keeps stdin open: the reader and the SDK's worker
        # thread still wait on it, and nothing more can reach the client. End now (the
        # sentence is on stderr; every job already finished).
        import logging  # here, not above: off the front's path to the first answer

        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    return code
