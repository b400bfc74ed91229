"""Runs the TypeScript MCP SDK interop test (tests/mcp-node: @modelcontextprotocol/sdk, the
client most agent hosts embed, against a real ``np mcp``) with ``npm test``, installing its
locked dependencies first if needed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from mcp_support import NP_BIN

INTEROP = Path(__file__).resolve().parent.parent / "mcp-node"


def test_typescript_sdk_interop() -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not installed; the MCP interop test needs both")
    sdk = INTEROP / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json"
    if not sdk.exists():
        install = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=INTEROP,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        assert install.returncode == 0, f"npm ci failed:\n{install.stdout}\n{install.stderr}"
    env = {**os.environ}
    if NP_BIN.exists():  # this checkout's np, whatever is on PATH
        env["NP_BIN"] = str(NP_BIN)
    proc = subprocess.run(
        [npm, "test"],
        cwd=INTEROP,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"npm test failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    assert "# pass 1" in proc.stdout and "# fail 0" in proc.stdout, proc.stdout[-3000:]
