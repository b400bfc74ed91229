"""``np mcp`` as an agent host starts it: a real subprocess with the host's environment and
client name, spoken to in newline-delimited JSON-RPC (no SDK), for tests that need to be
that host exactly (its ``clientInfo.name``, its environment variables)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.support import np_command


class LineMcp:
    """``np mcp -C project`` with ``env``, initialized as MCP client ``client``."""

    def __init__(self, project: Path, client: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [*np_command(), "mcp", "-C", str(project)],
            cwd=project,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.n = 0
        self.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": client, "version": "1"},
            },
        )
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> Any:
        self.n += 1
        self.send({"jsonrpc": "2.0", "id": self.n, "method": method, "params": params})
        assert self.proc.stdout is not None
        while True:
            msg = json.loads(self.proc.stdout.readline())
            if msg.get("id") == self.n:
                return msg["result"]

    def tool(self, name: str, arguments: dict[str, Any]) -> tuple[bool, str]:
        """``(is_error, text)`` of one tool call."""
        result = self.request("tools/call", {"name": name, "arguments": arguments})
        return bool(result.get("isError")), str(result["content"][0]["text"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)
