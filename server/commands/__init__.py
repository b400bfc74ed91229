"""The command table: every np command defined once, with its argument checks and wire shapes.

Front doors (``server.cli``, ``server.lsp``, ``server.mcp``) only translate their input into
``execute(name, Context(...), args)`` and present what comes back. Nothing here imports a
front door or a protocol library (import-linter contract ``core-no-doors``).
"""

from .table import COMMANDS, Command, Context, execute

__all__ = ["COMMANDS", "Command", "Context", "execute"]
