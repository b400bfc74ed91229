"""A read, or a write that needs a session (every one but ``np s``), never creates the
database: a mistyped ``--db``/``NP_DB`` leaves no stray empty file or folders, and says
there is no database there. A write creates it, with every
missing folder 0700 and the file 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import NpRunner


@pytest.mark.parametrize(
    "args",
    [
        ["p"],
        ["r"],
        ["g"],
        ["t"],
        ["log"],
        ["export"],
        ["--json", "p"],
        # writes that need a session: only `np s` creates the database (a new user's finding)
        ["t", "u", "-i", "x", "-s", "completed"],
        ["t", "a", "-t", "x"],
        ["g", "s", "-t", "x", "-d", "y"],
        ["a"],
        ["--json", "t", "a", "-t", "x"],
    ],
)
def test_a_read_on_a_missing_database_creates_nothing(
    run_np: NpRunner, tmp_path: Path, args: list[str]
) -> None:
    db = tmp_path / "typo" / "deeper" / "np.db"
    r = run_np(*args, env={"NP_DB": str(db)})
    assert r.code == 1, r
    said = r.out if "--json" in args else r.err
    assert "no np database at" in said and str(db) in said, r
    if "--json" in args:
        assert r.json()["error"]["kind"] == "no_active_session"
    else:
        assert "np s" in r.err and "NP_DB" in r.err
    assert not (tmp_path / "typo").exists()


def test_listing_sessions_of_a_missing_database_is_empty_and_creates_nothing(
    run_np: NpRunner, tmp_path: Path
) -> None:
    db = tmp_path / "typo" / "np.db"
    r = run_np("--json", "ls", env={"NP_DB": str(db)})
    assert r.code == 0, r
    assert r.json()["sessions"] == []
    assert not (tmp_path / "typo").exists()


def test_a_write_creates_every_missing_folder_0700(run_np: NpRunner, tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "c" / "np.db"
    old = os.umask(0o022)
    try:
        r = run_np("s", env={"NP_DB": str(db)})
    finally:
        os.umask(old)
    assert r.code == 0, r
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert run_np("p", env={"NP_DB": str(db)}).code == 0
