"""A project folder renamed after its session started (B10): every door says the same thing
once — the operator must move the session here — and none also suggests starting or
resuming one (which would fail or split the plan). Real ``np`` and a real ``np mcp``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mcp_support import CLI_SYNTAX, mcp_client, np_command, text_of

CONTRADICTIONS = ("Start one with", "Call np_resume", "Resume it with", "Start a new session")


def np(db: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NP_DB": str(db)}
    env.pop("NP_DEBUG", None)
    return subprocess.run(
        [*np_command(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


async def test_a_renamed_folder_gets_one_next_step_in_every_door(tmp_path: Path) -> None:
    db, before, after = tmp_path / "np.db", tmp_path / "before", tmp_path / "after"
    before.mkdir()
    assert np(db, before, "s").returncode == 0
    before.rename(after)

    async with mcp_client(db, cwd=after) as client:
        for tool in ("np_plan", "np_start", "np_resume", "np_add"):
            args = {"tasks": [{"title": "x"}]} if tool == "np_add" else {}
            result = await client.call_tool(tool, args)
            text = text_of(result)
            assert result.is_error, text
            assert "no longer there" in text and "operator" in text, text
            assert not any(c in text for c in CONTRADICTIONS), text
            assert not CLI_SYNTAX.search(text), text

    for verb in (["p"], ["s"], ["r"]):
        r = np(db, after, *verb)
        assert r.returncode == 1, r
        assert "np mv --session" in r.stderr, r
        assert not any(c in r.stderr for c in CONTRADICTIONS), r
    assert "np s" not in np(db, after, "p").stderr
