"""``np mcp`` started with options it cannot run with (a missing ``-C`` folder, a bad
``NP_DB``, a log file it cannot write) still answers every request its client sends: the
front answers ``initialize`` before the options are read, so exiting then left the host's
``tools/list`` and ``tools/call`` unanswered (the new user's finding). Each tool call is an
error result naming the problem; np mcp exits 2 once the client closes stdin."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support import np_command

pytest.importorskip("mcp")

REQUESTS = [
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "host", "version": "1"},
        },
    },
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "np_plan", "arguments": {}},
    },
    {"jsonrpc": "2.0", "id": 4, "method": "prompts/list"},
]


@pytest.mark.parametrize(
    ("args", "db", "named"),
    [
        (["-C", "/missing/np-test-dir"], None, "no such directory"),
        ([], "file:/x.db?mode=ro", "URI carries options"),
        (["--log-file", "/missing/np-test-dir/np.log"], None, "log"),
    ],
    ids=["missing -C", "NP_DB with URI options", "unwritable log file"],
)
def test_every_request_is_answered(
    tmp_path: Path, args: list[str], db: str | None, named: str
) -> None:
    env = {**os.environ, "NP_DB": db or str(tmp_path / "np.db")}
    proc = subprocess.run(
        [*np_command(), "mcp", *args],
        cwd=tmp_path,
        env=env,
        input="".join(json.dumps(r) + "\n" for r in REQUESTS),
        capture_output=True,
        text=True,
        timeout=60,
    )
    answers = {m["id"]: m for m in map(json.loads, proc.stdout.splitlines())}
    assert sorted(answers) == [1, 2, 3, 4], (proc.stdout, proc.stderr)
    assert len(answers[2]["result"]["tools"]) == 8
    call = answers[3]["result"]
    assert call["isError"] is True
    text = call["content"][0]["text"]
    assert text.startswith("Failed (invalid_argument)") and named in text, text
    assert named in proc.stderr, proc.stderr
    assert proc.returncode == 2, proc.stderr
    assert not (tmp_path / "np.db").exists()  # nothing was created
