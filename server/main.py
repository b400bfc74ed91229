"""The ``np`` console script: the CLI (:mod:`server.cli`), except that ``np mcp`` starts
answering its client before anything else is imported.

Hosts give an MCP server a second or less (Codex sends its first model request without
waiting), so ``np mcp`` claims stdin and stdout and answers the handshake and the tool list
(:func:`server.mcp.front.prestart`, standard library only) while the CLI parses its
arguments and the MCP SDK loads. Everything else goes straight to the CLI.
"""

from __future__ import annotations

import sys


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["mcp"] and not {"-h", "--help"} & set(args):
        from server.mcp.front import prestart

        prestart()
    from server.cli import main as cli

    return cli()
