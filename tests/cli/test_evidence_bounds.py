"""Evidence on "done" is never slow and never fails a write (issue 23): the git facts are
taken under one deadline, and a deadline that has passed (a very large tree) gives
``skipped`` with the reason instead of waiting; a folder outside git costs no git process;
a tree with more changed files than are listed one by one keeps only their digest, and the
change is still told (without a count)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from server.commands import evidence
from server.text.render import git_summary

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _repo(path: Path, files: int = 3) -> Path:
    path.mkdir()
    for n in range(files):
        (path / f"f{n}.txt").write_text(f"{n}\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "first"]):
        subprocess.run(
            ["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
            cwd=path,
            check=True,
            capture_output=True,
        )
    return path


def test_a_passed_deadline_skips_and_says_why(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    late = evidence.facts(str(repo), deadline=time.monotonic() - 1)
    assert late == {
        "skipped": f"git took longer than {evidence.TIME_LIMIT:g} s (a very large tree)"
    }
    assert git_summary(late) == f"git facts skipped: {late['skipped']}"
    start = evidence.facts(str(repo))
    assert len(str(start["head"])) == 40
    assert evidence.change(str(repo), start, start, deadline=time.monotonic() - 1) == {
        "changed": False,
        "files": 0,
        "commits": 0,
    }  # equal facts need no git at all


def test_outside_git_no_git_process_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[object] = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    monkeypatch.delenv("GIT_DIR", raising=False)
    plain = tmp_path / "plain"
    plain.mkdir()
    assert evidence.facts(str(plain)) == {"skipped": "not a git repository"}
    assert ran == []


def test_many_changed_files_keep_a_digest_and_still_tell_a_change(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    start = evidence.facts(str(repo))
    for n in range(evidence.FILES_KEPT + 5):
        (repo / f"new{n}.txt").write_text("x\n")
    end = evidence.facts(str(repo))
    assert end["dirty"] == evidence.FILES_KEPT + 5 and "files" not in end
    done = evidence.change(str(repo), start, end)
    assert done == {"changed": True, "files": None, "commits": 0}
    assert git_summary({**end, "change": done}) == "files changed"
