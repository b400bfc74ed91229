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

INSTALL_HINT = (
    "np mcp needs the MCP extra: pipx install 'nasin-pali[mcp]' "
    "(or pip install 'nasin-pali[mcp]' in np's environment)."
)


class ExtraMissing(Exception):
    """The MCP SDK is not installed; ``str(exc)`` says in one sentence how to install it."""


def serve(db_path: str, directory: str | None, log_file: str | None = None) -> int:
    """Serve MCP on stdin/stdout until the client closes stdin; returns the exit code (0).

    ``directory`` is ``np mcp -C DIR`` (``None`` when not given): the default for a tool call
    without ``dir``. Raises :class:`ExtraMissing` when the SDK cannot be imported.
    """
    try:
        import mcp.server.lowlevel  # noqa: F401 - the SDK, loaded only here
    except ImportError:
        raise ExtraMissing(INSTALL_HINT) from None
    from .server import run

    return run(db_path, directory, log_file)
