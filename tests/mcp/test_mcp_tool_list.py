"""The model-visible tool list: held byte for byte by a golden file, and within budget.

The budget (issue 13): names, descriptions, schemas and annotations of all tools together
at most 3,100 bytes of compact JSON (2,500 until issue 22 added what hosts need: the words a
keyword tool search looks for in every description, and the status synonyms np accepts in
the enums; 2,700 until issue 21 added np_next and the after, take_over and key fields).
Peers: Task Master's core set about 5k tokens, beads' MCP server 10–13k tokens. To change a
tool on purpose, regenerate the golden file:
``NP_UPDATE_GOLDEN=1 python -m pytest tests/mcp/test_mcp_tool_list.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mcp_support import MODES, golden_text, mcp_client, model_view, wire_tools

from server.mcp.tools import TOOLS

GOLDEN = Path(__file__).with_name("tools.golden.json")
# bytes: 2,700 (issue 22's search lead and status synonyms), then issue 21's np_next and
# the after, take_over and key fields, then issue 23's question form of np_edit (question,
# choices, withdraw: 146 bytes)
BUDGET = 3_250


def test_tool_list_within_budget() -> None:
    view = model_view(TOOLS)
    size = len(("[" + ",".join(view) + "]").encode())
    assert size <= BUDGET, f"the tool list is {size:,} bytes; the budget is {BUDGET:,}"


def test_golden_matches_the_table() -> None:
    expected = golden_text(model_view(TOOLS))
    if os.environ.get("NP_UPDATE_GOLDEN"):
        GOLDEN.write_text(expected, encoding="utf-8")
    assert GOLDEN.read_text(encoding="utf-8") == expected


@pytest.mark.parametrize("mode", MODES)
async def test_what_the_client_receives_is_the_golden(
    mode: str, db_path: Path, workdir: Path
) -> None:
    """Over the wire, in both generations, the client gets the golden list. The SDK's wire
    models order a schema's keys by generation (the handshake era writes ``properties``
    before ``type``), so the comparison is of JSON values, and of the byte count."""
    async with mcp_client(db_path, mode=mode, directory=workdir) as client:
        listed = wire_tools((await client.list_tools()).tools)
    golden = GOLDEN.read_text(encoding="utf-8")
    assert json.loads(golden_text(model_view(listed))) == json.loads(golden)
    assert len(golden_text(model_view(listed)).encode()) == len(golden.encode())
    # Nothing beyond the model view travels but the mark that keeps Claude Code from hiding
    # the tools behind its tool search: no outputSchema, no title.
    assert all(set(t) <= {"name", "description", "inputSchema", "annotations", "_meta"}
               for t in listed)  # fmt: skip
    assert all(t["_meta"] == {"anthropic/alwaysLoad": True} for t in listed)
