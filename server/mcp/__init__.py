"""``np mcp``: np's tools for coding agents over the Model Context Protocol, on stdio.

The door has three parts:

* :mod:`server.mcp.tools` — the seven tools the model sees (hand-written JSON Schemas, held
  byte for byte by a golden test) and their translation onto the command table; it imports
  no MCP library, so it is testable and measurable without the extra.
* :mod:`server.mcp.words` — what this door says: tool-named guidance and error hints, the
  server instructions and the ``np`` prompt.
* :mod:`server.mcp.server` — the wiring onto the official MCP SDK (``mcp`` 2.x, the
  optional extra ``nasin-pali[mcp]``), imported only when ``np mcp`` runs.
"""

from __future__ import annotations

import sys

INSTALL_HINT = (
    "np mcp needs the MCP extra: install np with it from its checkout, "
    "pipx install '.[mcp]' or pip install '.[mcp]' (or pipx inject nasin-pali mcp)."
)
EXIT_NO_EXTRA = 2  # as a usage error: the command cannot run as installed


def serve(db_path: str, directory: str | None, log_file: str | None = None) -> int:
    """Serve MCP on stdin/stdout until the client closes stdin; return the exit code.

    ``directory`` is ``np mcp -C DIR`` (``None`` when not given): the default for a tool call
    without ``dir``. Without the SDK, says in one sentence on stderr how to install it and
    returns 2.
    """
    try:
        import mcp.server.lowlevel  # noqa: F401 - the SDK, loaded only here
    except ImportError:
        sys.stderr.write(f"np: {INSTALL_HINT}\n")
        return EXIT_NO_EXTRA
    from .server import run

    return run(db_path, directory, log_file)
