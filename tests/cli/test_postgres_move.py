"""The same folder lookups on both engines: ``np mv -r`` adopts a renamed folder's session and
a command in an archived folder says who archived it — on PostgreSQL too, where sessions
belong to a scope (F13, and its sibling: the archived-folder notice)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import NpRunner


@pytest.fixture
def np_env(np_db: str) -> dict[str, str]:
    env = {**os.environ, "NP_DB": np_db, "NP_SCOPE": "mvs"}
    env.pop("NP_DEBUG", None)
    return env


def test_np_mv_r_adopts_a_renamed_folders_session(run_np: NpRunner, tmp_path: Path) -> None:
    old = tmp_path / "mv1"
    old.mkdir()
    assert run_np("s", cwd=old).code == 0
    assert run_np("t", "a", "-t", "z", cwd=old).code == 0
    new = tmp_path / "mv2"
    old.rename(new)
    r = run_np("mv", "-r", "renamed", cwd=new)
    assert r.code == 0, r
    assert "now belongs to" in r.out and str(new) in r.out
    plan = run_np("t", "--json", cwd=new)
    assert plan.code == 0, plan
    assert [t["title"] for t in plan.json()["tasks"]] == ["z"]


def test_a_folder_whose_session_was_archived_says_who_archived_it(
    run_np: NpRunner, workdir: Path
) -> None:
    assert run_np("s", cwd=workdir).code == 0
    assert run_np("--actor", "ana", "a", cwd=workdir).code == 0
    r = run_np("t", cwd=workdir)
    assert r.code == 1, r
    assert "ana archived this folder's session" in r.err, r
