"""Actors that match reality (issue 21): under a known agent host the CLI's default actor is
the name that host's MCP client sends, so one agent using np mcp and the CLI is one actor;
agents with distinct host session ids are two actors, told of each other's changes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from server.actors import HOSTS
from tests.support import np_command
from tests.support.mcp_lines import LineMcp

HOST_VARS = sorted({marker for marker, _, _ in HOSTS} | {s for _, _, s in HOSTS if s})


def clean_env(db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in HOST_VARS and k != "NP_ACTOR"}
    return {**env, "NP_DB": str(db), **extra}


def np(db: Path, project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*np_command(), *args],
        cwd=project,
        env=clean_env(db, **env),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def last_actor(db: Path, project: Path) -> str:
    log = np(db, project, "--json", "log", "-n", "1")
    return str(json.loads(log.stdout)["events"][0]["actor"])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(("marker", "client", "session"), HOSTS)
def test_each_host_the_cli_records_what_its_mcp_client_sends(
    tmp_path: Path, project: Path, marker: str, client: str, session: str
) -> None:
    db = tmp_path / "np.db"
    extra = {marker: "1"}
    if session:
        extra[session] = "5b7c0d2e-9f1a-4c3b-8d6e-000000000000"
    assert np(db, project, "s", **extra).returncode == 0
    expected = f"{client}#5b7c0d2e" if session else client
    assert last_actor(db, project) == expected
    # NP_ACTOR and --actor still win; outside any host np records "agent"
    assert np(db, project, "t", "a", "-t", "x", NP_ACTOR="ana", **extra).returncode == 0
    assert last_actor(db, project) == "ana"
    assert np(db, project, "t", "a", "-t", "y").returncode == 0
    assert last_actor(db, project) == "agent"


def test_one_agent_over_mcp_and_the_cli_is_one_actor_two_sessions_are_two(
    tmp_path: Path, project: Path
) -> None:
    pytest.importorskip("mcp", reason="the MCP extra is not installed")
    db = tmp_path / "np.db"
    one = {"CLAUDECODE": "1", "CLAUDE_CODE_SESSION_ID": "aaaa1111-0000"}
    two = {"CLAUDECODE": "1", "CLAUDE_CODE_SESSION_ID": "bbbb2222-0000"}
    assert np(db, project, "s", **one).returncode == 0
    assert np(db, project, "p", **two).returncode == 0  # the second agent's first look
    agent = LineMcp(project, "claude-code", clean_env(db, **one))
    try:
        failed, _ = agent.tool("np_add", {"tasks": [{"title": "from the MCP door"}]})
        assert not failed
    finally:
        agent.close()
    assert last_actor(db, project) == "claude-code#aaaa1111"
    # the same agent's CLI: its own MCP write is no news to it
    mine = np(db, project, "p", **one)
    assert mine.returncode == 0 and "Changed by others" not in mine.stdout, mine.stdout
    # the other agent (another session) is told, once
    other = np(db, project, "p", **two)
    assert "claude-code#aaaa1111: task" in other.stdout, other.stdout
    assert "Changed by others" not in np(db, project, "p", **two).stdout
