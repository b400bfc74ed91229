"""A write's outcome is told truly (issue 11 §2, the CLI half): when stdout cannot be
written — full (``> /dev/full``), closed (``>&-``) — a committed change is never reported
as a failure. np says on stderr that it was saved and exits 4; a read says nothing was
changed, also 4. A retry is then never needed, so nothing is added twice."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import NpRunner
from tests.support import np_command

FULL = "/dev/full"


def _np(
    env: dict[str, str], cwd: Path, *args: str, stdout: str
) -> subprocess.CompletedProcess[str]:
    """np with stdout on /dev/full (``stdout="full"``) or closed (``"closed"``)."""
    redirect = f">{FULL}" if stdout == "full" else ">&-"
    return subprocess.run(
        ["sh", "-c", f'exec "$@" {redirect}', "sh", *np_command(), *args],
        cwd=str(cwd),
        env=env,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=60,
    )


def _tasks(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT title FROM tasks ORDER BY created_seq")]


needs_dev_full = pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full here")


@pytest.mark.parametrize("stdout", [pytest.param("full", marks=needs_dev_full), "closed"])
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_saved_change_is_told_as_saved(
    run_np: NpRunner,
    np_env: dict[str, str],
    workdir: Path,
    db_path: Path,
    stdout: str,
    json_flag: list[str],
) -> None:
    run_np("s")
    r = _np(np_env, workdir, "t", "a", "-t", "write once", *json_flag, stdout=stdout)
    assert r.returncode == 4, r
    assert "saved" in r.stderr and "Do not run the command again" in r.stderr, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert _tasks(db_path) == ["write once"]


@pytest.mark.parametrize("stdout", [pytest.param("full", marks=needs_dev_full), "closed"])
@pytest.mark.parametrize("args", [["p"], ["p", "--json"], ["ls"], ["m"], ["doctor"], ["log"]])
def test_a_read_whose_output_fails_says_nothing_changed(
    run_np: NpRunner, np_env: dict[str, str], workdir: Path, stdout: str, args: list[str]
) -> None:
    run_np("s")
    r = _np(np_env, workdir, *args, stdout=stdout)
    assert r.returncode == 4, r
    assert "could not be written" in r.stderr and "nothing was changed" in r.stderr, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr


@needs_dev_full
def test_a_backup_whose_report_fails_says_the_file_was_written(
    run_np: NpRunner, np_env: dict[str, str], workdir: Path, tmp_path: Path
) -> None:
    run_np("s")
    dest = tmp_path / "copy.db"
    r = _np(np_env, workdir, "backup", str(dest), stdout="full")
    assert r.returncode == 4, r
    assert f"The backup was written to {dest}" in r.stderr, r.stderr
    assert dest.exists()


def test_a_closed_stdout_never_lends_its_number_to_a_file(
    run_np: NpRunner, np_env: dict[str, str], workdir: Path, tmp_path: Path
) -> None:
    """With fd 1 closed, the export file np opens must not become "stdout"."""
    run_np("s")
    run_np("t", "a", "-t", "exported")
    out = tmp_path / "plan.md"
    r = _np(np_env, workdir, "export", "-o", str(out), stdout="closed")
    assert r.returncode == 0, r
    assert "exported" in out.read_text()
