"""Joining a plan from another folder (issue 21): a linked git worktree joins its main
worktree's plan; a clone elsewhere (another machine: another scope on PostgreSQL) joins by
session id; recorded as an event; separate plans per worktree still work as before."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import np_command


def run(db: str, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "NP_ACTOR"}
    return subprocess.run(
        [*np_command(), *args],
        cwd=cwd,
        env={**full, "NP_DB": db, **env},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def ok(db: str, cwd: Path, *args: str, **env: str) -> str:
    p = run(db, cwd, *args, **env)
    assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_linked_worktree_joins_its_main_worktrees_plan(np_db: str, tmp_path: Path) -> None:
    main, linked, own = tmp_path / "repo", tmp_path / "repo-feature", tmp_path / "repo-own"
    main.mkdir()
    git = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    steps = [["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "init"]]
    steps += [["worktree", "add", "-q", str(linked)], ["worktree", "add", "-q", str(own)]]
    for argv in steps:
        subprocess.run(["git", *argv], cwd=main, env={**os.environ, **git}, check=True)
    sid = json.loads(ok(np_db, main, "--json", "s"))["session"]["sid"]
    ok(np_db, main, "t", "a", "-t", "shared work")
    # before joining, the linked worktree has no plan (np never adopts one silently), and
    # np says which plan it could join and how
    before = run(np_db, linked, "p")
    assert before.returncode == 1 and f"linked git worktree of {main}" in before.stderr
    assert "run `np join`" in before.stderr, before.stderr
    joined = ok(np_db, linked, "--actor", "agent-2", "join")
    assert f"now works on the plan of {main}" in joined and sid in joined
    ok(np_db, linked, "--actor", "agent-2", "t", "a", "-t", "from the worktree")
    titles = [t["title"] for t in json.loads(ok(np_db, main, "--json", "t"))["tasks"]]
    assert titles == ["shared work", "from the worktree"]
    event = json.loads(ok(np_db, main, "--json", "log", "-n", "2"))["events"][1]
    assert event["type"] == "session_joined" and event["actor"] == "agent-2"
    assert event["payload"]["dir"] == str(linked)
    assert "already works on the plan" in ok(np_db, linked, "join")  # nothing new
    # another worktree still starts a plan of its own, as before
    assert json.loads(ok(np_db, own, "--json", "s"))["session"]["sid"] != sid
    refused = run(np_db, own, "join")
    assert refused.returncode == 1 and "active plan of its own" in refused.stderr
    # a folder that is no linked worktree must name the session
    plain = tmp_path / "plain"
    plain.mkdir()
    named = run(np_db, plain, "join")
    assert named.returncode == 2 and "--session" in named.stderr


def test_another_machine_joins_by_session_id(np_db: str, tmp_path: Path) -> None:
    one, two = tmp_path / "m1" / "checkout", tmp_path / "m2" / "elsewhere" / "clone"
    one.mkdir(parents=True)
    two.mkdir(parents=True)
    m1, m2 = {"NP_SCOPE": "m1"}, {"NP_SCOPE": "m2"}
    sid = json.loads(ok(np_db, one, "--json", "s", **m1))["session"]["sid"]
    (task,) = json.loads(ok(np_db, one, "--json", "t", "a", "-t", "ship it", **m1))["added"]
    ok(np_db, two, "--actor", "bob", "join", "--session", sid, **m2)
    ok(np_db, two, "--actor", "bob", "t", "u", "-i", task, "-s", "in_progress", **m2)
    shown = ok(np_db, one, "p", **m1)
    assert "bob" in shown and f"⟳ {task} ship it  [bob until" in shown
