"""Helpers for the ``np mcp`` tests: the SDK's own client against ``np mcp`` as a real
subprocess over stdio, in either protocol generation."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp", reason="the MCP extra (nasin-pali[mcp]) is not installed")

from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult, Implementation

from server.cli.verbs import VERBS

NP_BIN = Path(sys.executable).parent / "np"


def np_command() -> list[str]:
    """The installed ``np`` console script (what hosts run), else ``python -m server.cli``."""
    if NP_BIN.exists():
        return [str(NP_BIN)]
    return [sys.executable, "-m", "server.cli"]


# "legacy": the initialize handshake today's hosts send; "auto": the client probes
# server/discover and speaks the stateless 2026-07-28 generation.
MODES = ["legacy", "auto"]
CLIENT_NAME = "np-pytest"

# CLI syntax that must never reach an MCP user: a flag, or an np shell command (any verb).
_VERB_WORDS = sorted({path[0] for path in VERBS}, key=len, reverse=True)
CLI_SYNTAX = re.compile(
    r"(?:^|[\s(\"'`])-[a-zA-Z]\b"
    r"|--\w"
    r"|\bnp (?:" + "|".join(map(re.escape, _VERB_WORDS)) + r")\b"
)


@asynccontextmanager
async def mcp_client(
    db: Path,
    *,
    mode: str = "legacy",
    directory: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Client]:
    """``np mcp --db DB [-C DIRECTORY]`` started in ``cwd``, connected with the SDK client."""
    args = [*np_command()[1:], "mcp", "--db", str(db)]
    if directory is not None:
        args += ["-C", str(directory)]
    full_env = {**os.environ, **(env or {})}
    full_env.pop("NP_DEBUG", None)
    params = StdioServerParameters(
        command=np_command()[0], args=args, env=full_env, cwd=str(cwd) if cwd else None
    )
    async with Client(
        params,
        mode=mode,  # type: ignore[arg-type]
        client_info=Implementation(name=CLIENT_NAME, version="1"),
        read_timeout_seconds=60,
    ) as client:
        yield client


_FAILED = re.compile(r"Failed \((\w+)\): (.+)", re.S)


def failure(text: str) -> tuple[str, str]:
    """An error result's kind and the rest: its text reads ``Failed (kind): …`` (its first
    words say it failed, whatever the host shows of the isError flag)."""
    found = _FAILED.fullmatch(text)
    assert found is not None, text
    return found.group(1), found.group(2)


def text_of(result: CallToolResult) -> str:
    """The one text block of a result; fails on anything else, structured content included."""
    assert result.structured_content is None, result
    assert len(result.content) == 1, result.content
    block = result.content[0]
    assert block.type == "text", block
    return block.text


async def ok(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> str:
    result = await client.call_tool(tool, arguments or {})
    text = text_of(result)
    assert not result.is_error, text
    assert not CLI_SYNTAX.search(text), text
    return text


async def error(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> str:
    result = await client.call_tool(tool, arguments or {})
    text = text_of(result)
    assert result.is_error, text
    assert not CLI_SYNTAX.search(text), text
    return text


def event_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def task_ids(text: str) -> list[str]:
    return re.findall(r"^[☐⟳☑☒⊗] ([0-9a-f]{6}) ", text, re.M)


MODEL_KEYS = ("name", "description", "inputSchema", "annotations")


def model_view(tools: list[dict[str, Any]]) -> list[str]:
    """What hosts show the model, one compact JSON object per tool in the server's order:
    name, description, input schema and annotations."""
    return [
        json.dumps(
            {k: t[k] for k in MODEL_KEYS if k in t}, ensure_ascii=False, separators=(",", ":")
        )
        for t in tools
    ]


def golden_text(view: list[str]) -> str:
    """The golden file's bytes: the compact tool list, one tool per line (so a diff shows
    which tool changed)."""
    return "[\n" + ",\n".join(view) + "\n]\n"


def wire_tools(tools: list[Any]) -> list[dict[str, Any]]:
    return [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]
